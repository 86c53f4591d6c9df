import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSession, encodeSession } from '../src/codec.js';
import { CorruptSessionError } from '../src/errors.js';

// Pure: no database.
describe('encodeSession', () => {
  it('stores what JSON.stringify writes', () => {
    const session = { cookie: { maxAge: 1000 }, at: new Date(0), gone: undefined, n: Number.NaN, s: 'a\u0000b' };
    assert.equal(encodeSession(session, undefined), JSON.stringify(session));
  });

  it('refuses what is not an object, saying what it got', () => {
    for (const [value, said] of [
      [null, 'null'],
      [[], 'an array'],
      ['text', 'string'],
      [42, 'number'],
      [undefined, 'undefined'],
    ] as const) {
      assert.throws(
        () => encodeSession(value, undefined),
        (error: Error) => error instanceof TypeError && error.message.endsWith(`got ${said}`),
      );
    }
  });

  it('refuses a session JSON cannot hold, with the cause', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const session of [{ n: 10n }, circular]) {
      assert.throws(
        () => encodeSession(session, undefined),
        (error: Error) =>
          error instanceof TypeError && /cannot be stored as JSON/.test(error.message) && error.cause !== undefined,
      );
    }
  });

  it('refuses a session larger than maxSessionSize, counted in UTF-8 bytes', () => {
    const session = { s: 'é'.repeat(10) }; // {"s":"…"}: 8 bytes of JSON around 20 bytes of text
    assert.equal(encodeSession(session, 28), '{"s":"éééééééééé"}');
    assert.throws(
      () => encodeSession(session, 27),
      (error: Error) =>
        error instanceof RangeError && /28 bytes as JSON, more than maxSessionSize \(27\)/.test(error.message),
    );
  });
});

describe('decodeSession', () => {
  it('reads a stored JSON object back', () => {
    assert.deepEqual(decodeSession('{"cookie":{},"a":[1,"x"]}'), { cookie: {}, a: [1, 'x'] });
  });

  it('keeps keys such as __proto__ as plain own properties', () => {
    const session = decodeSession('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    assert.ok(Object.hasOwn(session, '__proto__'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('calls anything but JSON text of an object corrupt', () => {
    for (const stored of [42, null, '"just a string"', '[]', 'null', '42', '{not json']) {
      assert.throws(() => decodeSession(stored), CorruptSessionError, String(stored));
    }
  });
});
