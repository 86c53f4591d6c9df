import assert from 'node:assert/strict';
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
