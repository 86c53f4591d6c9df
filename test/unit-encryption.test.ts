import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SessionCipher, sessionKeyFrom } from '../src/encryption.js';
import { DecryptionError } from '../src/errors.js';
import { MAX_MERGE_ATTEMPTS, type MergeSteps, writeMerged } from '../src/merged-write.js';
import { applySessionChange, diffSessions, type KeysChange } from '../src/session-diff.js';
import { storedIdFunction } from '../src/session-id.js';

const TEXT = '{"cookie":{"expires":"2030-01-01T00:00:00.000Z"},"token":"secret value"}';

describe('the session cipher, without a database', () => {
  const [k1, k2] = [randomBytes(32), randomBytes(32)];

  it('round-trips under any key of the list, each write with a fresh IV', () => {
    const writer = new SessionCipher([k1, k2]);
    const a = writer.encrypt(TEXT, 'row');
    const b = writer.encrypt(TEXT, 'row');
    assert.notEqual(a, b, 'a random IV per write');
    assert.ok(!a.includes('secret'));
    assert.equal(JSON.parse(a).split(':')[2], createHash('sha256').update(k1).digest('hex').slice(0, 8));
    assert.equal(new SessionCipher([k2, k1]).decrypt(a, 'row'), TEXT);
  });

  it('refuses another row, an altered or cut value, and an unknown key, with a DecryptionError that says which', () => {
    const cipher = new SessionCipher([k1]);
    const stored = cipher.encrypt(TEXT, 'row');
    const body = stored.slice(0, -1);
    const flipped = `${body.slice(0, 40)}${body[40] === 'A' ? 'B' : 'A'}${body.slice(41)}"`;
    const id = cipher.currentKeyId;
    const failedAuthentication = new RegExp(
      `^stored session failed authentication with key ${id}: altered, cut short, or moved from another session id$`,
    );
    for (const [label, run, message] of [
      ['another row', () => cipher.decrypt(stored, 'other-row'), failedAuthentication],
      ['altered', () => cipher.decrypt(flipped, 'row'), failedAuthentication],
      ['cut short', () => cipher.decrypt(`${stored.slice(0, 30)}"`, 'row'), /^stored session is cut short$/],
      ['cut at the end', () => cipher.decrypt(`${stored.slice(0, -5)}"`, 'row'), failedAuthentication],
      [
        'unknown key',
        () => new SessionCipher([k2]).decrypt(stored, 'row'),
        new RegExp(`^stored session is encrypted with a key not in encryptionKeys \\(key id "${id}"\\)$`),
      ],
      [
        'not encrypted',
        () => cipher.decrypt(TEXT, 'row'),
        /^stored session is not encrypted \(encryptionKeys is set\)$/,
      ],
    ] as const) {
      assert.throws(
        run,
        (error: unknown) => {
          assert.ok(error instanceof DecryptionError, `${label}: a DecryptionError`);
          assert.match(error.message, message, label);
          assert.ok(!String(error).includes('secret'), `${label}: names no content`);
          return true;
        },
        label,
      );
    }
  });

  it('refuses anything after or inside the base64 that encrypt would not have written', () => {
    const cipher = new SessionCipher([k1]);
    const sealed = cipher.encrypt(TEXT, 'row');
    const body = sealed.slice(0, -1);
    for (const altered of [`${body}:extra"`, `${body} "`, `${body}\\n"`, `${body}=="`, `${body}AAAA"`]) {
      assert.throws(() => cipher.decrypt(altered, 'row'), DecryptionError, altered.slice(-12));
    }
    assert.equal(cipher.decrypt(sealed, 'row'), TEXT);
  });

  it('takes keys as 32-byte Buffers or base64 (standard or URL-safe), and names what else it got', () => {
    const key = randomBytes(32);
    assert.deepEqual(sessionKeyFrom(key.toString('base64')), key);
    assert.deepEqual(sessionKeyFrom(key.toString('base64url')), key);
    assert.deepEqual(sessionKeyFrom(new Uint8Array(key)), key);
    assert.equal(sessionKeyFrom(randomBytes(31)), 'a 31-byte Buffer');
    assert.equal(sessionKeyFrom('abc$'), 'a string that is not base64');
    assert.equal(sessionKeyFrom(undefined), 'a undefined');
  });
});

describe('stored ids, without a database', () => {
  it('hashes as PostgreSQL sha256() does, and keys the hash with a pepper', () => {
    assert.equal(storedIdFunction('plain')('id'), 'id');
    assert.equal(storedIdFunction('sha256')('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const pepper = Buffer.from('sixteen bytes or more');
    assert.notEqual(storedIdFunction('hmac-sha256', pepper)('abc'), storedIdFunction('sha256')('abc'));
    assert.notEqual(
      storedIdFunction('hmac-sha256', pepper)('abc'),
      storedIdFunction('hmac-sha256', Buffer.from('another pepper of some length'))('abc'),
    );
  });
});

describe('applying a key-level change in JavaScript (encrypted sessions)', () => {
  it('keeps the keys the request did not change, as the updateKeys statement does', () => {
    const base = '{"cookie":{},"a":0,"b":0,"c":1}';
    const mine = '{"cookie":{},"a":1,"b":0}';
    const theirs = '{"cookie":{},"a":0,"b":2,"c":1,"d":3}';
    const change = diffSessions(base, mine);
    assert.equal(change.kind, 'keys');
    if (change.kind !== 'keys') return;
    assert.deepEqual(JSON.parse(applySessionChange(theirs, change)), { cookie: {}, a: 1, b: 2, d: 3 });
  });
  it('treats __proto__ as a key like any other', () => {
    const change = diffSessions('{"cookie":{}}', '{"cookie":{},"__proto__":{"polluted":1}}');
    assert.equal(change.kind, 'keys');
    if (change.kind !== 'keys') return;
    const merged = applySessionChange('{"cookie":{},"x":1}', change);
    assert.equal(merged, '{"cookie":{},"x":1,"__proto__":{"polluted":1}}');
    assert.equal(({} as any).polluted, undefined);
  });
});

describe('a merged write (compare-and-swap), without a database', () => {
  /** A row in memory; `interfere` changes it before the given swap attempts. */
  function row(initial: string | undefined, interfere: Record<number, (text: string) => string | undefined> = {}) {
    let stored = initial;
    let swaps = 0;
    const steps: MergeSteps = {
      async swap(next, base) {
        swaps++;
        const change = interfere[swaps];
        if (change !== undefined && stored !== undefined) stored = change(stored);
        if (stored === undefined || stored !== base) return false;
        stored = next;
        return true;
      },
      reread: async () => stored,
      readable: (text) => (text.startsWith('!') ? undefined : text),
      storable: (text) => text,
    };
    return { steps, now: () => stored, swaps: () => swaps };
  }
  const base = '{"cookie":{},"a":0,"b":0}';
  const mine = '{"cookie":{},"a":1,"b":0}';
  const change = diffSessions(base, mine) as KeysChange;

  it('is given a key-level change', () => assert.equal(change.kind, 'keys'));
  it('writes at once when the row still holds what the request loaded', async () => {
    const r = row(base);
    assert.deepEqual(await writeMerged(r.steps, change, mine, base), { text: mine, stored: mine });
    assert.equal(r.swaps(), 1);
  });
  it('re-applies its own change to a row another request changed, keeping that request’s keys', async () => {
    const r = row(base, { 1: () => '{"cookie":{},"a":0,"b":2}' });
    const written = await writeMerged(r.steps, change, mine, base);
    assert.deepEqual(JSON.parse(r.now()!), { cookie: {}, a: 1, b: 2 });
    assert.equal(written?.stored, r.now());
  });
  it('never brings back a row that is gone', async () => {
    const r = row(base, { 1: () => undefined });
    assert.equal(await writeMerged(r.steps, change, mine, base), undefined);
    assert.equal(r.now(), undefined);
  });
  it(`gives up with an error after ${MAX_MERGE_ATTEMPTS} rows changed under it, and on a row it cannot read`, async () => {
    const always = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [i + 1, (t: string) => `${t.slice(0, -1)},"x${i}":1}`]),
    );
    await assert.rejects(() => writeMerged(row(base, always).steps, change, mine, base), /5 times in a row/);
    await assert.rejects(
      () => writeMerged(row(base, { 1: () => '!garbled' }).steps, change, mine, base),
      /could not be decrypted/,
    );
  });
});
