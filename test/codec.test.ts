import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSession, encodeSession } from '../src/codec.js';
import { CorruptSessionError } from '../src/errors.js';

describe('encodeSession (no database)', () => {
  it('refuses a session whose own toJSON() turns it into something other than an object', () => {
    for (const [kind, value] of [
      ['a string', 'x'],
      ['an array', [1, 2]],
      ['null', null],
      ['undefined', undefined],
      ['a number', 42],
      ['a boolean', true],
    ] as const) {
      assert.throws(
        () => encodeSession({ cookie: {}, secret: 'hunter2', toJSON: () => value }, undefined),
        (error: Error) =>
          error instanceof TypeError &&
          error.message ===
            `connect-pg-simple: the session's toJSON() must return an object, got ${kind}: nothing was stored`,
        kind,
      );
    }
  });

  it('takes a toJSON() that returns an object, and a session without one', () => {
    assert.equal(encodeSession({ a: 1, toJSON: () => ({ b: 2 }) }, undefined), '{"b":2}');
    assert.equal(encodeSession({ a: 1 }, undefined), '{"a":1}');
  });
});

describe('decodeSession (no database)', () => {
  it('says where a stored text is not JSON, without quoting it', () => {
    for (const text of ['{"secret": x}', '{"secret": "unterminated']) {
      assert.throws(
        () => decodeSession(text),
        (error: Error) =>
          error instanceof CorruptSessionError &&
          /^stored session is not valid JSON/.test(error.message) &&
          !error.message.includes('secret') &&
          error.cause === undefined,
        text,
      );
    }
  });
});
