import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionLifetimeSeconds, touchWindowSeconds } from '../src/expiry.js';

// Pure: no database. The clock is a parameter (`now`), so nothing here depends on when it runs.
const NOW = Date.parse('2030-01-01T00:00:00.000Z');
const DAY = 86_400;
const withCookie = (cookie: unknown) => ({ cookie }) as any;

describe('sessionLifetimeSeconds', () => {
  it('takes a number ttl as it is, over the cookie', () => {
    const session = withCookie({ expires: new Date(NOW + 10_000) });
    assert.equal(sessionLifetimeSeconds(session, 3600, DAY, NOW), 3600);
  });

  it('calls a ttl function with the session', () => {
    const session = withCookie({ originalMaxAge: 5000 });
    let seen: unknown;
    const ttl = (s: unknown) => {
      seen = s;
      return 42;
    };
    assert.equal(sessionLifetimeSeconds(session, ttl, DAY, NOW), 42);
    assert.equal(seen, session);
  });

  it('refuses a ttl function that does not return a number, naming what it returned', () => {
    for (const bad of ['60', undefined, Number.NaN]) {
      assert.throws(
        () => sessionLifetimeSeconds(withCookie({}), () => bad as any, DAY, NOW),
        (error: Error) => error instanceof TypeError && /ttl function must return a number/.test(error.message),
      );
    }
  });

  it('without ttl, lives until the cookie expires: a Date, an ISO string or a number', () => {
    assert.equal(sessionLifetimeSeconds(withCookie({ expires: new Date(NOW + 90_000) }), undefined, DAY, NOW), 90);
    assert.equal(
      sessionLifetimeSeconds(withCookie({ expires: new Date(NOW + 1500).toISOString() }), undefined, DAY, NOW),
      1.5,
    );
    assert.equal(sessionLifetimeSeconds(withCookie({ expires: NOW + 2000 }), undefined, DAY, NOW), 2);
  });

  it('a cookie given as { maxAge } alone lives that many milliseconds, as express-session would make its expiry', () => {
    assert.equal(sessionLifetimeSeconds(withCookie({ maxAge: 3_600_000 }), undefined, DAY, NOW), 3600);
    assert.equal(
      sessionLifetimeSeconds(withCookie({ maxAge: 3_600_000, expires: new Date(NOW + 5000) }), undefined, DAY, NOW),
      5,
      'expires, when there, decides',
    );
    assert.equal(sessionLifetimeSeconds(withCookie({ maxAge: null }), undefined, DAY, NOW), DAY, 'no maxAge');
  });

  it('gives a negative lifetime for a cookie that has already expired', () => {
    assert.equal(sessionLifetimeSeconds(withCookie({ expires: new Date(NOW - 5000) }), undefined, DAY, NOW), -5);
  });

  it('falls back to the default without a usable cookie expiry', () => {
    for (const cookie of [undefined, null, 'x', {}, { expires: null }, { expires: false }, { expires: 'not a date' }]) {
      assert.equal(sessionLifetimeSeconds(withCookie(cookie), undefined, DAY, NOW), DAY, JSON.stringify(cookie));
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
