import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { READ_CACHE_BOUND_MS } from '../../src/cache-trust.js';
import { storedIdFunction } from '../../src/session-id.js';

/**
 * `got` is the session `expected` describes. `get` hands back the cookie's expiry as the database
 * enforces it (its remaining time, on the database's clock, counted from this process's): the same
 * instant as the one written, read through two clocks, so equal to within a second.
 */
export function assertSameSession(got: unknown, expected: unknown, message?: string): void {
  const expires = (session: unknown) => (session as { cookie?: { expires?: unknown } } | null)?.cookie?.expires;
  const [gotExpires, expectedExpires] = [expires(got), expires(expected)];
  if (typeof gotExpires === 'string' && typeof expectedExpires === 'string') {
    const apart = Math.abs(Date.parse(gotExpires) - Date.parse(expectedExpires));
    assert.ok(apart < 1000, `${message ?? 'session'}: cookie.expires ${apart} ms from the one written`);
    got = { ...(got as object), cookie: { ...(got as { cookie: object }).cookie, expires: expectedExpires } };
  }
  assert.deepEqual(got, expected, message);
}

/** The id the table holds for a session id, with the defaults (hashed ids, no pepper). */
export const storedId = storedIdFunction('sha256');

/** A session's cookie as express-session hands it to the store, in its JSON form. */
export interface StoredCookie {
  originalMaxAge: number;
  expires: string;
}

/**
 * A session as express-session hands it to the store, its cookie expiring `seconds` from now (by
 * this process's clock), with `data` beside the cookie.
 */
export function inSeconds(seconds: number): { cookie: StoredCookie };
export function inSeconds<T extends object>(seconds: number, data: T): { cookie: StoredCookie } & T;
export function inSeconds(seconds: number, data: object = {}): { cookie: StoredCookie } {
  return {
    cookie: { originalMaxAge: seconds * 1000, expires: new Date(Date.now() + seconds * 1000).toISOString() },
    ...data,
  };
}

/**
 * Waits out the trusted read cache's bound (on by default): a change made outside a store (by
 * another store, the CLI, plain SQL) or the loss of its database is certain to be seen by it only
 * once that much time has passed since. A test that reads right after such a change may be
 * answered from what the store read before, as the cache promises.
 */
export function pastTheCacheBound(): Promise<void> {
  return sleep(READ_CACHE_BOUND_MS + 10);
}
