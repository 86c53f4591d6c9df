import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionLifetimeSeconds, touchWindowSeconds } from '../src/expiry.js';
import { cookieLifetime } from '../src/store.js';

// Pure: no database. The clock is a parameter (`now`), so nothing here depends on when it runs.
const NOW = Date.parse('2030-01-01T00:00:00.000Z');
const DAY = 86_400;
const withCookie = (cookie: unknown) => ({ cookie }) as any;
/** The lifetime of a session with this cookie, as express-session's store (store.ts) tells the core. */
const lifetimeOf = (session: any, ttl?: number | ((s: any) => number)) =>
  sessionLifetimeSeconds(session, ttl, cookieLifetime(session), DAY, NOW);

describe('sessionLifetimeSeconds', () => {
  it('takes a number ttl as it is, over the cookie', () => {
    const session = withCookie({ expires: new Date(NOW + 10_000) });
    assert.equal(lifetimeOf(session, 3600), 3600);
  });

  it('takes a ttl over the duration a framework gives, and that duration over an expiry', () => {
    const session = withCookie({});
    assert.equal(sessionLifetimeSeconds(session, 60, { lifetimeSeconds: 30 }, DAY, NOW), 60);
    assert.equal(sessionLifetimeSeconds(session, undefined, { lifetimeSeconds: 30 }, DAY, NOW), 30);
    const both = { lifetimeSeconds: 30, expiresAtMs: NOW + 90_000 };
    assert.equal(sessionLifetimeSeconds(session, undefined, both, DAY, NOW), 30);
    assert.equal(sessionLifetimeSeconds(session, undefined, undefined, DAY, NOW), DAY);
  });

  it('calls a ttl function with the session', () => {
    const session = withCookie({ originalMaxAge: 5000 });
    let seen: unknown;
    const ttl = (s: unknown) => {
      seen = s;
      return 42;
    };
    assert.equal(lifetimeOf(session, ttl), 42);
    assert.equal(seen, session);
  });

  it('refuses a ttl function that does not return a number, naming what it returned', () => {
    for (const bad of ['60', undefined, Number.NaN]) {
      assert.throws(
        () => lifetimeOf(withCookie({}), () => bad as any),
        (error: Error) => error instanceof TypeError && /ttl function must return a number/.test(error.message),
      );
    }
  });

  it('without ttl, lives until the cookie expires: a Date, an ISO string or a number', () => {
    assert.equal(lifetimeOf(withCookie({ expires: new Date(NOW + 90_000) })), 90);
    assert.equal(lifetimeOf(withCookie({ expires: new Date(NOW + 1500).toISOString() })), 1.5);
    assert.equal(lifetimeOf(withCookie({ expires: NOW + 2000 })), 2);
  });

  it('a cookie given as { maxAge } alone lives that many milliseconds, as express-session would make its expiry', () => {
    assert.equal(lifetimeOf(withCookie({ maxAge: 3_600_000 })), 3600);
    assert.equal(
      lifetimeOf(withCookie({ maxAge: 3_600_000, expires: new Date(NOW + 5000) })),
      5,
      'expires, when there, decides',
    );
    assert.equal(lifetimeOf(withCookie({ maxAge: null })), DAY, 'no maxAge');
  });

  it('gives a negative lifetime for a cookie that has already expired', () => {
    assert.equal(lifetimeOf(withCookie({ expires: new Date(NOW - 5000) })), -5);
  });

  it('falls back to the default without a usable cookie expiry', () => {
    for (const cookie of [undefined, null, 'x', {}, { expires: null }, { expires: false }, { expires: 'not a date' }]) {
      assert.equal(lifetimeOf(withCookie(cookie)), DAY, JSON.stringify(cookie));
    }
  });
});

describe('touchWindowSeconds', () => {
  it('is touchAfter, at most a tenth of the lifetime', () => {
    assert.equal(touchWindowSeconds(DAY, 60), 60);
    assert.equal(touchWindowSeconds(300, 60), 30);
    assert.equal(touchWindowSeconds(600, 60), 60);
  });

  it('is 0 when lazy touch is off, or for a session with no time left', () => {
    assert.equal(touchWindowSeconds(DAY, 0), 0);
    assert.equal(touchWindowSeconds(0, 60), 0);
    assert.equal(touchWindowSeconds(-10, 60), 0);
  });
});
