import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { SessionCipher } from '../src/encryption.js';
import { type SessionIdForm, storedIdFunction } from '../src/session-id.js';
import { tableNames } from '../src/sql.js';
import { currentStatements, currentUserStatements } from '../src/statements/current.js';
import { transitionalStatements } from '../src/statements/transitional.js';
import { tableIdsFor } from '../src/table-ids.js';
import { detailsText, MAX_DETAILS_BYTES, userIdFunction, userIdText } from '../src/user-id.js';
import { SessionHandles, textArgument, userIdArgument } from '../src/user-sessions.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('userId and describe (no database)', () => {
  it('the default reads session.userId, else Passport’s user; numbers become decimal strings', () => {
    const byDefault = userIdFunction(undefined);
    assert.equal(byDefault({ userId: 42 }), '42');
    assert.equal(byDefault({ userId: 'ada', passport: { user: 'bob' } }), 'ada');
    assert.equal(byDefault({ passport: { user: 'bob' } }), 'bob');
    assert.equal(byDefault({ passport: { user: { id: 1 } } }), null, 'a whole user object is no id');
    assert.equal(byDefault({ userId: '' }), null);
    assert.equal(byDefault({ passport: null }), null);
    assert.equal(byDefault({}), null);
  });

  it('one rule for a user id, stored or given: a lone surrogate is none, whichever way it comes', () => {
    assert.equal(userIdText(42), '42');
    assert.equal(userIdText('ada'), 'ada');
    for (const bad of ['', 'a\u0000b', '\uD800', 'x'.repeat(1025), Number.NaN, {}, true]) {
      assert.equal(userIdText(bad), undefined, JSON.stringify(bad));
    }
    assert.equal(userIdFunction(undefined)({ userId: '\uD800' } as never), null, 'the default records no user');
    assert.throws(() => userIdArgument('\uD800', 'userSessions()'), /userSessions\(\) takes a user id/);
  });

  it('an app’s userId function is checked on every call', () => {
    const given = userIdFunction((s) => s.who as never);
    assert.equal(given({ who: 7 }), '7');
    assert.equal(given({ who: null }), null);
    assert.equal(given({}), null);
    for (const bad of [{}, '', 'a\0b', 'x'.repeat(1025), Number.NaN, true]) {
      assert.throws(() => given({ who: bad }), /option "userId" must return/);
    }
  });

  it('describe: a flat object of at most 1 kB of JSON, with the request express-session hangs on the session', () => {
    const session = { cookie: {} };
    Object.defineProperty(session, 'req', { value: { ip: '10.0.0.1' }, enumerable: false });
    assert.equal(
      detailsText((_s, req) => ({ ip: (req as { ip: string }).ip, n: 1, ok: true, none: null }), session),
      '{"ip":"10.0.0.1","n":1,"ok":true,"none":null}',
    );
    assert.equal(detailsText(undefined, session), null);
    assert.equal(
      detailsText(() => undefined, session),
      null,
    );
    assert.throws(
      () => detailsText(() => [] as never, session),
      /must return a plain object or undefined, got an array/,
    );
    assert.throws(() => detailsText(() => ({ a: { b: 1 } }) as never, session), /its "a" is an object/);
    assert.throws(() => detailsText(() => ({ a: Number.POSITIVE_INFINITY }), session), /its "a" is number Infinity/);
    const big = { a: 'x'.repeat(MAX_DETAILS_BYTES) };
    assert.throws(() => detailsText(() => big, session), /more than 1024/);
  });

  it('method arguments: a user id is a non-empty string or a finite number; a handle a non-empty string', () => {
    assert.equal(userIdArgument(42, 'm()'), '42');
    assert.equal(userIdArgument('ada', 'm()'), 'ada');
    for (const bad of [undefined, null, '', Number.NaN, {}, 'a\0']) {
      assert.throws(() => userIdArgument(bad, 'm()'), /m\(\) takes a user id/);
    }
    assert.throws(() => textArgument('\ud800', 'm()', 'a handle'), /m\(\) takes a handle, got a string it cannot hold/);
  });
});

describe('handles (no database)', () => {
  it('are the stored id with hashed ids, and the id’s SHA-256 with plain ids: never the id', () => {
    const pepper = Buffer.from('a pepper of sixteen bytes');
    const handleOf = (form: SessionIdForm) =>
      new SessionHandles(tableIdsFor({ kind: 'own' }, 3, false, { form, pepper }).handleOf, undefined);
    assert.equal(handleOf('sha256').of('abc'), sha256('abc'));
    assert.equal(handleOf('plain').of('abc'), sha256('abc'));
    const hmac = storedIdFunction('hmac-sha256', pepper);
    assert.equal(handleOf('hmac-sha256').of('abc'), hmac('abc'));
  });

  it('bind encrypted details to the handle, apart from the session', () => {
    const cipher = new SessionCipher([Buffer.alloc(32, 1)]);
    const handles = new SessionHandles(storedIdFunction('sha256'), cipher);
    const logged: unknown[] = [];
    const stored = handles.storable('{"device":"phone"}', 'h1')!;
    assert.doesNotMatch(stored, /phone/);
    assert.deepEqual(
      handles.readable(stored, 'h1', (...a) => logged.push(a)),
      { device: 'phone' },
    );
    assert.equal(
      handles.readable(stored, 'h2', (...a) => logged.push(a)),
      null,
      'moved to another row',
    );
    assert.throws(() => cipher.decrypt(stored, 'h1'), /failed authentication/, 'not readable as a session of that id');
    assert.equal(logged.length, 1);
    assert.equal(
      handles.readable(null, 'h1', () => {}),
      null,
    );
  });
});

describe('the SQL of sessions per user (no database)', () => {
  const names = tableNames('session', 'app');

  it('writes user_id, details and touched only on a schema 3 table', () => {
    const old = transitionalStatements(names, 'schema 2');
    assert.equal(old.setUser, undefined);
    assert.doesNotMatch(old.upsert.text + old.touch.text + old.get.text, /touched|user_id/);
    const current = currentStatements(names);
    assert.match(current.upsert.text, /\(sid, sess, expire, created, touched, user_id, details\)/);
    for (const s of [current.update, current.updateIfUnchanged, current.updateKeys, current.touch]) {
      assert.match(s.text, /touched = now\(\)/, s.name);
    }
    assert.match(current.get.text, /, user_id FROM/);
    assert.match(
      current.setUser!.text,
      /SET user_id = \$2::text, details = \$3::text::json, touched = now\(\) WHERE sid = \$1::text AND expire > now\(\)/,
    );
  });

  it('finds a plain-id table’s rows by the id’s hash, and a hashed one’s by the stored id', () => {
    const hashed = currentUserStatements(names, { storedIdIsHandle: true });
    assert.match(hashed.destroyHandle.text, /WHERE sid = \$1::text RETURNING/);
    const plain = currentUserStatements(names, { storedIdIsHandle: false });
    assert.match(plain.destroyHandle.text, /WHERE encode\(sha256\(convert_to\(sid, 'UTF8'\)\), 'hex'\) = \$1::text/);
    assert.match(plain.list.text, /SELECT encode\(sha256/);
    const absolute = currentUserStatements(names, { storedIdIsHandle: true, absoluteTimeoutSeconds: 60 });
    assert.match(
      absolute.list.text,
      /created > coalesce\(now\(\) - make_interval\(secs => 60::float8\), '-infinity'\)/,
    );
  });
});
