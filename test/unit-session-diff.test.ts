import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffSessions } from '../src/session-diff.js';

const text = (value: object) => JSON.stringify(value);
const cookie = (expires: string) => ({ originalMaxAge: 1000, expires, path: '/' });

describe('diffSessions', () => {
  it('calls a change of cookie.expires alone a touch', () => {
    const base = text({ cookie: cookie('2030-01-01T00:00:00.000Z'), user: 1 });
    assert.deepEqual(diffSessions(base, text({ cookie: cookie('2030-01-02T00:00:00.000Z'), user: 1 })), {
      kind: 'expiry',
    });
    assert.deepEqual(diffSessions(base, base), { kind: 'expiry' });
  });

  it('names the keys set, changed and deleted, each value whole', () => {
    const base = text({ cookie: cookie('a'), keep: 1, change: [1, 2], gone: true, deep: { x: 1, y: 2 } });
    const now = text({ cookie: cookie('a'), keep: 1, change: [1, 2, 3], deep: { x: 1 }, added: 'new' });
    const change = diffSessions(base, now);
    assert.equal(change.kind, 'keys');
    if (change.kind !== 'keys') return;
    assert.deepEqual(JSON.parse(change.set), { change: [1, 2, 3], deep: { x: 1 }, added: 'new' });
    assert.deepEqual(JSON.parse(change.replaced).sort(), ['added', 'change', 'deep', 'gone']);
  });

  it('sends the new cookie with other changes, and a cookie change beyond its expiry as a change', () => {
    const base = text({ cookie: cookie('a'), n: 1 });
    const withExpiry = diffSessions(base, text({ cookie: cookie('b'), n: 2 }));
    assert.equal(withExpiry.kind, 'keys');
    if (withExpiry.kind === 'keys') assert.deepEqual(JSON.parse(withExpiry.set).cookie.expires, 'b');
    const newMaxAge = diffSessions(base, text({ cookie: { ...cookie('a'), originalMaxAge: 5 }, n: 1 }));
    assert.equal(newMaxAge.kind, 'keys');
  });

  it("leaves out only the cookie's expiry, not an `expires` anywhere else; an unreadable base is a whole write", () => {
    const change = diffSessions(
      text({ cookie: {}, offer: { expires: 'mon' } }),
      text({ cookie: {}, offer: { expires: 'tue' } }),
    );
    assert.equal(change.kind, 'keys');
    assert.deepEqual(diffSessions('{not json', text({ cookie: {} })), { kind: 'whole' });
  });

  it('keeps escapes exact, and writes a session holding \\u0000 whole', () => {
    const base = text({ cookie: cookie('a'), s: 'x' });
    const change = diffSessions(base, text({ cookie: cookie('a'), s: 'a"\\\u2028' }));
    assert.equal(change.kind === 'keys' && JSON.parse(change.set).s, 'a"\\\u2028');
    assert.deepEqual(diffSessions(base, text({ cookie: cookie('a'), s: 'a\u0000' })), { kind: 'whole' });
    assert.deepEqual(diffSessions(text({ 'k\u0000': 1 }), text({ 'k\u0000': 1, n: 1 })), { kind: 'whole' });
  });

  it('writes a session holding a lone surrogate whole, and one with a valid pair key by key', () => {
    const base = text({ cookie: cookie('a'), s: 'x' });
    assert.deepEqual(diffSessions(base, text({ cookie: cookie('a'), s: 'a\uD800' })), { kind: 'whole' });
    assert.deepEqual(diffSessions(base, text({ cookie: cookie('a'), s: '\uDFFFb' })), { kind: 'whole' });
    assert.deepEqual(diffSessions(text({ s: '\uDC00' }), text({ s: '\uDC00', n: 1 })), { kind: 'whole' });
    assert.equal(diffSessions(base, text({ cookie: cookie('a'), s: '🚀' })).kind, 'keys');
  });
});
