import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attachReceipt, bindReceipt, type LoadReceipt, receiptFor, receiptOf } from '../src/load-receipt.js';

const receipt = (sid: string): LoadReceipt => ({ sid, text: '{}', remainingSeconds: 60, at: 0 });
const loadedSession = (sid = 's1') => {
  const text = '{"cookie":{"originalMaxAge":1000,"expires":"2030-01-01T00:00:00.000Z"},"user":1}';
  const session = JSON.parse(text);
  attachReceipt(session, receipt(sid));
  return { session, text };
};

describe('load receipts', () => {
  it('stay out of the way: JSON, keys and deep equality see the session as stored', () => {
    const { session, text } = loadedSession();
    assert.equal(JSON.stringify(session), text);
    assert.deepEqual(Object.keys(session.cookie), ['originalMaxAge', 'expires']);
    assert.deepEqual(session, JSON.parse(text));
    assert.deepEqual({ ...session.cookie }, JSON.parse(text).cookie);
  });

  it('travel with the session, its copies that keep the cookie, and a framework copy bound to it', () => {
    const { session } = loadedSession();
    assert.equal(receiptFor(session, 's1')?.sid, 's1');
    assert.equal(receiptFor({ ...session, user: 2 }, 's1')?.sid, 's1');
    const frameworkCopy = { cookie: { maxAge: 1000 }, user: 1 };
    bindReceipt(frameworkCopy, receiptOf(session)!);
    assert.equal(receiptFor(frameworkCopy, 's1')?.sid, 's1');
  });

  it("reach a session built from the cookie's toJSON and kept under a symbol, as @fastify/session does", () => {
    const { session } = loadedSession();
    const options = Symbol('cookieOpts');
    const restored = { [options]: { path: '/', ...session.cookie.toJSON() }, user: 1, cookie: {} };
    assert.equal(receiptFor(restored, 's1')?.sid, 's1');
  });

  it('do not make a session with another id a loaded one (a regenerated session keeps old options)', () => {
    const { session } = loadedSession('old');
    assert.equal(receiptFor(session, 'new'), undefined);
    assert.equal(receiptFor({ cookie: {} }, 'old'), undefined, 'a new session has none');
  });

  it('go on a session without a cookie object too', () => {
    const session = { user: 1 };
    attachReceipt(session, receipt('bare'));
    assert.equal(receiptFor(session, 'bare')?.sid, 'bare');
    assert.equal(JSON.stringify(session), '{"user":1}');
  });
});
