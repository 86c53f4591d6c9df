import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { UsageError } from '../src/cli/errors.js';
import { planMoves } from '../src/cli/rekey-rows.js';
import { SessionCipher } from '../src/encryption.js';
import { idUseFor } from '../src/schema/ensure.js';
import {
  idCandidatesFunction,
  keyedSha256Function,
  parseRekeyingForm,
  pepperIdOf,
  rekeyingForm,
  storedIdFunction,
} from '../src/session-id.js';
import { tableNames } from '../src/sql.js';
import { transitionalStatements, transitionalUserStatements } from '../src/statements/transitional.js';
import { tableIdsFor } from '../src/table-ids.js';
import { tableState } from './support/table-state.js';

// Pure: no database. (That re-keying works on a live table is test/rekey.test.ts's job.)
const pepper = Buffer.from('a pepper for the unit tests');
const sha256 = storedIdFunction('sha256');
const keyed = storedIdFunction('hmac-sha256', pepper);

describe('re-keying forms and ids', () => {
  it('keys a stored SHA-256 id into the hmac-sha256 id of the same session', () => {
    assert.equal(keyedSha256Function(pepper)(sha256('abc')), keyed('abc'));
    assert.throws(() => keyedSha256Function(undefined), TypeError);
  });

  it('names a pepper by 8 hex digits that differ between peppers and do not contain it', () => {
    const id = pepperIdOf(pepper);
    assert.match(id, /^[0-9a-f]{8}$/);
    assert.notEqual(id, pepperIdOf(Buffer.from('another pepper, as long as it')));
    assert.ok(!pepper.toString('hex').includes(id));
  });

  it('writes and reads the re-keying form; anything else is not one', () => {
    const form = rekeyingForm({ from: 'sha256', pepperId: 'abcd0123' });
    assert.equal(form, 're-keying sha256 to hmac-sha256 (pepper abcd0123)');
    assert.deepEqual(parseRekeyingForm(form), { from: 'sha256', pepperId: 'abcd0123' });
    assert.deepEqual(parseRekeyingForm(rekeyingForm({ from: 'plain', pepperId: '00000000' }))?.from, 'plain');
    for (const other of [
      undefined,
      'sha256',
      'hmac-sha256',
      're-keying md5 to hmac-sha256 (pepper abcd0123)',
      `${form} `,
    ]) {
      assert.equal(parseRekeyingForm(other), undefined, String(other));
    }
  });

  it('offers the plain id as a candidate only for a table that held plain ids', () => {
    assert.deepEqual(idCandidatesFunction(pepper, 'sha256')('s'), [keyed('s'), sha256('s'), null]);
    assert.deepEqual(idCandidatesFunction(pepper, 'plain')('s'), [keyed('s'), sha256('s'), 's']);
  });
});

describe('how a store uses a table, by its form and the store’s options', () => {
  const names = tableNames('session');
  const peppered = { form: 'hmac-sha256' as const, pepperId: pepperIdOf(pepper) };
  const plainSha = { form: 'sha256' as const };
  const rekeying = `re-keying sha256 to hmac-sha256 (pepper ${peppered.pepperId})`;

  it('a store with the pepper serves tables of any form it can be re-keyed from, and the re-keying', () => {
    assert.deepEqual(idUseFor(names, tableState(2, 'hmac-sha256'), peppered), { kind: 'own' });
    assert.deepEqual(idUseFor(names, tableState(2, 'sha256'), peppered), { kind: 'candidates', from: 'sha256' });
    assert.deepEqual(idUseFor(names, tableState(2, 'plain'), peppered), { kind: 'candidates', from: 'plain' });
    assert.deepEqual(idUseFor(names, tableState(0), peppered), { kind: 'candidates', from: 'plain' });
    assert.deepEqual(idUseFor(names, tableState(2, rekeying), peppered), { kind: 'candidates', from: 'sha256' });
  });

  it('refuses a re-keying table to a store without the pepper or with another, saying what to do', () => {
    const without = idUseFor(names, tableState(2, rekeying), plainSha);
    assert.equal(without.kind, 'refused');
    assert.match(
      (without as { problem: string }).problem,
      /being re-keyed .* has no sessionIdPepper.* Give it the pepper/,
    );
    const other = idUseFor(names, tableState(2, rekeying), { form: 'hmac-sha256', pepperId: '00000000' });
    assert.match(
      (other as { problem: string }).problem,
      /with another pepper \(pepper id [0-9a-f]{8}; this store's sessionIdPepper has id 00000000\)/,
    );
    const after = idUseFor(names, tableState(2, 'hmac-sha256'), plainSha);
    assert.match((after as { problem: string }).problem, /Set sessionIdPepper to the pepper the table was keyed with/);
  });

  it('binds sessions it encrypts to the form the other stores read until the table is re-keying', () => {
    const store = { form: 'hmac-sha256' as const, pepper };
    const waiting = tableIdsFor({ kind: 'candidates', from: 'sha256' }, 2, false, store);
    const moving = tableIdsFor({ kind: 'candidates', from: 'sha256' }, 2, true, store);
    const onLegacy = tableIdsFor({ kind: 'candidates', from: 'plain' }, 0, false, store);
    assert.equal(waiting.writeBinding('s'), sha256('s'));
    assert.equal(moving.writeBinding('s'), keyed('s'));
    assert.equal(onLegacy.writeBinding('s'), sha256('s'));
    assert.equal(onLegacy.idCandidates, true, 'a 10.x table, found by candidates too');
    assert.deepEqual(waiting.readBindings('s'), [keyed('s'), sha256('s'), 's']);
    assert.ok(waiting.listedBindings(sha256('s')).includes(keyed('s')));
  });
});

describe('planMoves: one batch of rows, re-keyed in memory', () => {
  const key = randomBytes(32);
  const cipher = new SessionCipher([key]);

  it('keys each id, and re-binds an encrypted session to its new id unless it is already', () => {
    const rows = [
      { sid: sha256('plain-json'), sess: '{"a":1}' },
      { sid: sha256('bound-old'), sess: cipher.encrypt('{"b":2}', sha256('bound-old')) },
      { sid: sha256('bound-new'), sess: cipher.encrypt('{"c":3}', keyed('bound-new')) },
      { sid: sha256('broken'), sess: '"cps:v1:00000000:AAAA"' },
    ];
    const moves = planMoves(rows, 'sha256', pepper, cipher, 'rekey');
    assert.deepEqual(
      moves.olds,
      rows.map((r) => r.sid),
    );
    assert.deepEqual(moves.news, ['plain-json', 'bound-old', 'bound-new', 'broken'].map(keyed));
    assert.deepEqual([moves.texts[0], moves.texts[2], moves.texts[3]], [null, null, null]);
    assert.equal(cipher.decrypt(moves.texts[1]!, keyed('bound-old')), '{"b":2}');
    assert.deepEqual(moves.bases, [null, rows[1]!.sess, null, null]);
    assert.equal(moves.undecryptable, 1);
  });

  it('hashes plain ids first, and reads sessions bound to the plain id or its SHA-256', () => {
    const rows = [
      { sid: 'p1', sess: cipher.encrypt('{"p":1}', 'p1') },
      { sid: 'p2', sess: cipher.encrypt('{"p":2}', sha256('p2')) },
    ];
    const moves = planMoves(rows, 'plain', pepper, cipher, 'rekey');
    assert.deepEqual(moves.news, [keyed('p1'), keyed('p2')]);
    assert.equal(cipher.decrypt(moves.texts[0]!, keyed('p1')), '{"p":1}');
    assert.equal(cipher.decrypt(moves.texts[1]!, keyed('p2')), '{"p":2}');
    assert.equal(moves.undecryptable, 0);
  });

  it('re-binds encrypted details (schema 3) from the old handle to the new id, with the session or alone', () => {
    const rows = [
      { sid: sha256('d1'), sess: '{}', details: cipher.encrypt('{"device":"a"}', `details:${sha256('d1')}`) },
      { sid: sha256('d2'), sess: '{}', details: cipher.encrypt('{"device":"b"}', `details:${keyed('d2')}`) },
      { sid: 'd3', sess: '{}', details: cipher.encrypt('{"device":"c"}', `details:${sha256('d3')}`) },
      { sid: sha256('d4'), sess: '{}', details: null },
    ];
    const fromSha256 = planMoves(rows.slice(0, 2).concat(rows[3]!), 'sha256', pepper, cipher, 'rekey');
    assert.equal(cipher.decrypt(fromSha256.details[0]!, `details:${keyed('d1')}`), '{"device":"a"}');
    assert.deepEqual(fromSha256.detailsBases, [rows[0]!.details, null, null], 'bound already, or none');
    assert.deepEqual(fromSha256.texts, [null, null, null]);
    const fromPlain = planMoves([rows[2]!], 'plain', pepper, cipher, 'rekey');
    assert.equal(cipher.decrypt(fromPlain.details[0]!, `details:${keyed('d3')}`), '{"device":"c"}');
    assert.equal(fromPlain.undecryptableDetails, 0);
  });

  it('the SQL: the candidates upsert writes schema 3’s columns; a kept session’s candidates skip the null', () => {
    const names = tableNames('s');
    const statements = transitionalStatements(names, 'current schema, id candidates');
    const upsert = statements.upsert.text;
    assert.match(upsert, /new_id AS .*replaced AS \(DELETE/s);
    assert.match(
      upsert,
      /\(sid, sess, expire, created, touched, user_id, details\)\s+SELECT \(SELECT sid FROM new_id\)/,
    );
    assert.match(statements.setUser!.text, /sid = ANY\(\$1::text\[\]\)/);
    const users = transitionalUserStatements(names, 'current schema, id candidates', { storedIdIsHandle: true });
    const but = users!.destroyAllBut.text;
    assert.match(but, /sid <> ALL\(array_remove\(\$2::text\[\], NULL\)\)/);
  });

  it('asks for the keys when it meets an encrypted session without them', () => {
    const rows = [{ sid: sha256('x'), sess: cipher.encrypt('{}', sha256('x')) }];
    assert.throws(
      () => planMoves(rows, 'sha256', pepper, undefined, 'rekey'),
      (error: Error) => error instanceof UsageError && /set CPS_ENCRYPTION_KEYS/.test(error.message),
    );
  });
});
