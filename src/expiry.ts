import { typeError } from './errors.js';
import type { SessionObject } from './types.js';

/** How long the framework says a session lives: a duration, or an expiry (its cookie's). */
export interface FrameworkLifetime {
  /** Seconds, from now (koa-session's `maxAge`, React Router's `expires`, unstorage's `ttl`). */
  readonly lifetimeSeconds?: number | undefined;
  /** When it ends, in ms since the epoch (express-session's `cookie.expires`, hono-sessions' `_expire`). */
  readonly expiresAtMs?: number | undefined;
}

/**
 * How long a session should live, in seconds, from now: the store's `ttl` option (a number, or a
 * function of the session) wins; else what the framework says (`given`); else `defaultSeconds`.
 * Only a duration leaves the app: the database adds it to its own clock, so app servers whose
 * clocks disagree still agree on expiry.
 */
export function sessionLifetimeSeconds(
  session: SessionObject,
  ttl: number | ((session: SessionObject) => number) | undefined,
  given: FrameworkLifetime | undefined,
  defaultSeconds: number,
  nowMs: number = Date.now(),
): number {
  if (typeof ttl === 'number') return ttl;
  if (typeof ttl === 'function') {
    const seconds = ttl(session);
    if (typeof seconds !== 'number' || Number.isNaN(seconds)) {
      throw typeError(
        'ERR_INVALID_RETURN_VALUE',
        `connect-pg-simple: the ttl function must return a number of seconds, got ${typeof seconds}`,
      );
    }
    return seconds;
  }
  if (given?.lifetimeSeconds !== undefined) return given.lifetimeSeconds;
  if (given?.expiresAtMs !== undefined) return (given.expiresAtMs - nowMs) / 1000;
  return defaultSeconds;
}

/** An expiry as a framework gives it (a Date, an ISO string, or ms) in ms since the epoch; undefined for none. */
export function expiresAtMs(expires: unknown): number | undefined {
  if (expires === undefined || expires === null || expires === false) return undefined;
  const ms = expires instanceof Date ? expires.getTime() : new Date(expires as string | number).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * A touch brings a row down to a shorter lifetime only when the row has more than this many
 * seconds over it: a cookie handed back as `get` set it says the row's own end, give or take the
 * clocks' and the ISO string's rounding, and must not make every request write.
 */
export const SHORTENING_SLACK_SECONDS = 1;

/**
 * The window of a lazy touch, in seconds: a touch is skipped while the row has at least
 * `lifetime - window` left, so a session may end early by this much, never late. Short sessions
 * get a proportionally short window.
 */
export function touchWindowSeconds(lifetimeSeconds: number, touchAfterSeconds: number): number {
  if (touchAfterSeconds <= 0 || lifetimeSeconds <= 0) return 0;
  return Math.min(touchAfterSeconds, lifetimeSeconds / 10);
}
