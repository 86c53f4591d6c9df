import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SessionCipher } from '../src/encryption.js';
import { PGStore } from '../src/index.js';
import { beginRekeyStatement } from '../src/schema/rekey.js';
import { pepperIdOf, type RekeyableForm, storedIdFunction } from '../src/session-id.js';
import { tableNames } from '../src/sql.js';
import { useTestSchema } from './support/apps.js';
import { runCli } from './support/cli.js';
import { inSeconds } from './support/sessions.js';

const PEPPER = 'the pepper of the per-user re-keying tests';
const keyed = storedIdFunction('hmac-sha256', Buffer.from(PEPPER));
const sha256 = storedIdFunction('sha256');

describe('sessions per user on a table re-keyed to hmac-sha256 ids', () => {
  const schema = useTestSchema('cps_rekey_users', 4);
  const key = randomBytes(32);
  const cipher = new SessionCipher([key]);
  const target = (table: string) => ['--schema', schema.schemaName, '--table', table];
  const qualified = (table: string) => `"${schema.schemaName}"."${table}"`;
  const logged: string[] = [];
  const storeOn = (table: string, extra: object = {}) => {
    const store = new PGStore({
      ...schema.storeOptions(table),
      encryptionKeys: [key],
      describe: (session: Record<string, unknown>) => ({ device: String(session.device) }),
      errorLog: (...args: unknown[]) => logged.push(args.map(String).join(' ')),
      ...extra,
    });
    schema.onClose(() => store.close());
    return store;
  };
  const withPepper = (table: string) => storeOn(table, { sessionIdPepper: PEPPER });
  const devices = (sessions: ReadonlyArray<{ details: Record<string, unknown> | null }>) =>
    sessions.map((session) => String(session.details?.device)).sort();
  /** rekey's first step, as the command takes it: the table is re-keying until the rows have moved. */
  const beginRekeying = (table: string, from: RekeyableForm) =>
    schema.pool.query(
      beginRekeyStatement(tableNames(table, schema.schemaName), { from, pepperId: pepperIdOf(Buffer.from(PEPPER)) }),
    );
  const finishRekeying = async (table: string) => {
    const run = await runCli(['rekey', '--json', ...target(table)], {
      CPS_SESSION_ID_PEPPER: PEPPER,
      CPS_ENCRYPTION_KEYS: key.toString('base64'),
    });
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual([report.finished, report.undecryptable, report.undecryptableDetails], [true, 0, 0]);
  };
  /** Every row's session and details are bound to the id (the handle) the row has now. */
  const assertBoundToTheirRows = async (table: string) => {
    const rows = (
      await schema.pool.query(`SELECT sid, sess::text AS sess, details::text AS details FROM ${qualified(table)}`)
    ).rows;
    assert.ok(rows.length > 0);
    for (const row of rows) {
      assert.match(cipher.decrypt(row.sess, row.sid), /"device"/);
      assert.match(cipher.decrypt(row.details, `details:${row.sid}`), /"device"/);
    }
  };

  it('lists and revokes a user’s sessions before, while and after rekey moves a table of sha256 ids; details follow the new handles', async () => {
    const table = 'from_sha256';
    const before = storeOn(table);
    for (const device of ['laptop', 'phone', 'tablet']) {
      await before.set(`ann-${device}`, inSeconds(3600, { userId: 'ann', device }) as any);
    }
    await before.set('bob-laptop', inSeconds(3600, { userId: 'bob', device: 'laptop' }) as any);
    await before.close();

    // Before: a store with the pepper lists the sessions by their sha256 handles.
    const early = withPepper(table);
    const listed = await early.userSessions('ann');
    assert.deepEqual(devices(listed), ['laptop', 'phone', 'tablet']);
    assert.equal(early.sessionHandle('ann-phone'), sha256('ann-phone'));
    assert.ok(listed.some((session) => session.handle === early.sessionHandle('ann-phone')));
    await early.close();

    // While: new sessions take hmac-sha256 ids, and the old rows are still found by their candidates.
    await beginRekeying(table, 'sha256');
    const during = withPepper(table);
    await during.set('ann-watch', inSeconds(3600, { userId: 'ann', device: 'watch' }) as any);
    assert.equal(
      (await schema.pool.query(`SELECT user_id FROM ${qualified(table)} WHERE sid = $1`, [keyed('ann-watch')])).rows[0]
        ?.user_id,
      'ann',
      'the new row has the hmac-sha256 id and the user',
    );
    assert.deepEqual(devices(await during.userSessions('ann')), ['laptop', 'phone', 'tablet', 'watch']);
    assert.equal(during.sessionHandle('ann-watch'), keyed('ann-watch'));
    // A sign-in on a row still of the old form records its user (setUser finds it by its candidates).
    const bobs = (await during.get('bob-laptop')) as any;
    bobs.userId = 'robert';
    await during.set('bob-laptop', bobs);
    assert.deepEqual(devices(await during.userSessions('robert')), ['laptop']);
    assert.deepEqual(await during.userSessions('bob'), []);
    // "Sign out my other devices", kept by the session id of a row not yet moved.
    assert.equal(await during.destroyUserSessions('ann', { except: 'ann-phone' }), 3);
    assert.deepEqual(devices(await during.userSessions('ann')), ['phone']);
    assert.equal(await during.get('ann-watch'), null);
    await during.close();

    // After: rekey moved the rows with their users, and bound their details to the new handles.
    await finishRekeying(table);
    const after = withPepper(table);
    const [phone, ...others] = await after.userSessions('ann');
    assert.deepEqual(others, []);
    assert.equal(phone?.details?.device, 'phone');
    assert.equal(phone?.handle, after.sessionHandle('ann-phone'));
    assert.equal(phone?.handle, keyed('ann-phone'));
    assert.equal(((await after.get('ann-phone')) as any)?.device, 'phone');
    await assertBoundToTheirRows(table);
    const [laptop] = await after.userSessions('robert');
    assert.equal(await after.destroySession(laptop!.handle, { userId: 'robert' }), true);
    assert.equal(await after.get('bob-laptop'), null);
    assert.deepEqual(
      logged.filter((line) => /decrypt|could not be read/.test(line)),
      [],
      'every session and its details decrypted',
    );
  });

  it('while a table of plain ids is re-keyed, per-user methods and the CLI say they wait for it; after it, handles are the new ids', async () => {
    const table = 'from_plain';
    const before = storeOn(table, { hashSessionIds: false });
    await before.set('cy-desk', inSeconds(3600, { userId: 'cy', device: 'desk' }) as any);
    await before.set('cy-phone', inSeconds(3600, { userId: 'cy', device: 'phone' }) as any);
    assert.equal(before.sessionHandle('cy-desk'), sha256('cy-desk'));
    await before.close();

    await beginRekeying(table, 'plain');
    const during = withPepper(table);
    assert.equal(((await during.get('cy-desk')) as any)?.device, 'desk', 'sessions are served meanwhile');
    await assert.rejects(during.userSessions('cy'), /sessions per user wait for the re-keying of .* from plain ids/);
    await assert.rejects(during.destroyUserSessions('cy'), /wait for the re-keying/);
    const cli = await runCli(['sessions', '--user', 'cy', ...target(table)]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /is being re-keyed from plain ids/);
    await during.close();

    await finishRekeying(table);
    const after = withPepper(table);
    assert.deepEqual(devices(await after.userSessions('cy')), ['desk', 'phone']);
    assert.equal(after.sessionHandle('cy-desk'), keyed('cy-desk'));
    assert.equal(await after.destroyUserSessions('cy', { except: after.sessionHandle('cy-phone') }), 1);
    assert.deepEqual(devices(await after.userSessions('cy')), ['phone']);
    await assertBoundToTheirRows(table);
  });
});
