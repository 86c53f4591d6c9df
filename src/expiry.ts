import type { SessionObject } from './options.js';

/**
 * How long a session should live, in seconds, from now. Only a duration leaves the app: the
 * database adds it to its own clock, so app servers whose clocks disagree still agree on expiry.
 */
export function sessionLifetimeSeconds(
  session: SessionObject,
  ttl: number | ((session: SessionObject) => number) | undefined,
  defaultSeconds: number,
  now: number = Date.now(),
): number {
  if (typeof ttl === 'number') return ttl;
  if (typeof ttl === 'function') {
    const seconds = ttl(session);
    if (typeof seconds !== 'number' || Number.isNaN(seconds)) {
      throw new TypeError(`connect-pg-simple: the ttl function must return a number of seconds, got ${typeof seconds}`);
    }
    return seconds;
  }
  const expires = cookieExpires(session.cookie, now);
  if (expires !== undefined) return (expires - now) / 1000;
  return defaultSeconds;
}

/**
 * The cookie's absolute expiry in ms, from express-session's Cookie or its JSON form; a plain
 * `{ maxAge }` (milliseconds, without `expires`, as a direct call may give) counts from `now`, as
 * express-session's Cookie would set its expiry.
 */
function cookieExpires(cookie: unknown, now: number): number | undefined {
  if (typeof cookie !== 'object' || cookie === null) return undefined;
  const { expires, maxAge } = cookie as { expires?: unknown; maxAge?: unknown };
  if (expires === undefined || expires === null || expires === false) {
    return typeof maxAge === 'number' && Number.isFinite(maxAge) ? now + maxAge : undefined;
  }
  const ms = expires instanceof Date ? expires.getTime() : new Date(expires as string | number).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The window of a lazy touch, in seconds: a touch is skipped while the row has at least
 * `lifetime - window` left, so a session may end early by this much, never late. Short sessions
 * get a proportionally short window.
 */
export function touchWindowSeconds(lifetimeSeconds: number, touchAfterSeconds: number): number {
  if (touchAfterSeconds <= 0 || lifetimeSeconds <= 0) return 0;
  return Math.min(touchAfterSeconds, lifetimeSeconds / 10);
}
