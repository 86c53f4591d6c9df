import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  NOTICE_TRIGGERS,
  noticeChannelFor,
  noticeKeyOf,
  switchChangeNoticesStatement,
} from '../src/schema/change-notices.js';
import { createTableStatements } from '../src/schema/ddl.js';
import { migrate } from '../src/schema/migrate.js';
import { tableNames } from '../src/sql.js';
import { databaseUrl, eventually, serverAdmin, uniqueName } from './support/database.js';
import { databaseOf } from './support/legacy.js';

/**
 * The change-notice triggers (schema 4) in PostgreSQL: what each kind of statement notifies, as a
 * listening connection receives it. A statement's notices have all arrived once a NOTIFY sent
 * after it has (notices arrive in commit order).
 */
describe('change notices', () => {
  const schemaName = uniqueName('cps_notices');
  const names = tableNames('session', schemaName);
  const t = names.qualified;
  const admin = serverAdmin();
  const listener = new pg.Client({ connectionString: databaseUrl() });
  const received: string[] = [];
  let ends = 0;

  /** What the statements since the last call notified, each notice's keys sorted. */
  async function notices(): Promise<string[]> {
    const end = `end ${ends++}`;
    await admin.query('SELECT pg_notify($1, $2)', [noticeChannelFor(names), end]);
    assert.ok(await eventually(async () => received.includes(end), 10_000));
    const got = received.splice(0).filter((payload) => payload !== end);
    return got.map((payload) => payload.split(' ').sort().join(' '));
  }

  const keys = (...storedIds: string[]) => storedIds.map(noticeKeyOf).sort().join(' ');
  const live = (sid: string) => `('${sid}', '{"n":1}', now() + interval '1 hour')`;

  before(async () => {
    await admin.query(`CREATE SCHEMA "${schemaName}"`);
    for (const statement of createTableStatements(names, { changeNotices: true })) await admin.query(statement);
    await listener.connect();
    listener.on('notification', (message) => received.push(message.payload ?? ''));
    await listener.query(`LISTEN "${noticeChannelFor(names)}"`);
  });
  after(async () => {
    await listener.end();
    await admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await admin.close();
  });

  it('a destroy or a change of a live session notifies its key; a touch, an insert, an expired row nothing', async () => {
    await admin.query(
      `INSERT INTO ${t} (sid, sess, expire) VALUES ${live('a')}, ${live('b')}, ${live('c')}, ('old', '{}', now() - interval '1 second')`,
    );
    await admin.query(`UPDATE ${t} SET expire = expire + interval '1 hour', touched = now() WHERE expire > now()`);
    assert.deepEqual(await notices(), [], 'inserts and touches notify nothing');

    await admin.query(`UPDATE ${t} SET sess = '{"n":2}' WHERE sid = 'a'`);
    assert.deepEqual(await notices(), [keys('a')], 'a change of the session');
    await admin.query(`UPDATE ${t} SET user_id = 'ann' WHERE sid = 'b'`);
    assert.deepEqual(await notices(), [keys('b')], 'a change of the user');
    await admin.query(`UPDATE ${t} SET expire = now() + interval '1 minute' WHERE sid = 'c'`);
    assert.deepEqual(await notices(), [keys('c')], 'an expiry moved earlier');
    await admin.query(`UPDATE ${t} SET sid = 'a2' WHERE sid = 'a'`);
    assert.deepEqual(await notices(), [keys('a')], 'a row re-keyed: its old id');

    await admin.query(`DELETE FROM ${t} WHERE sid = 'old'`);
    assert.deepEqual(await notices(), [], 'a prune of expired rows notifies nothing');
    await admin.query(`DELETE FROM ${t}`);
    assert.deepEqual(await notices(), [keys('a2', 'b', 'c')], 'one notice for the statement');
  });

  it('batches many rows, 200 keys a notice; more than 1000, or a TRUNCATE, forget everything', async () => {
    await admin.query(
      `INSERT INTO ${t} (sid, sess, expire) SELECT 'r' || g, '{}', now() + interval '1 hour' FROM generate_series(1, 250) g`,
    );
    await admin.query(`DELETE FROM ${t}`);
    const batched = await notices();
    assert.deepEqual(
      batched.map((payload) => payload.split(' ').length).sort((x, y) => x - y),
      [50, 200],
    );
    const ids = Array.from({ length: 250 }, (_, i) => `r${i + 1}`);
    assert.equal(batched.join(' ').split(' ').sort().join(' '), keys(...ids));

    await admin.query(
      `INSERT INTO ${t} (sid, sess, expire) SELECT 'r' || g, '{}', now() + interval '1 hour' FROM generate_series(1, 1001) g`,
    );
    await admin.query(`DELETE FROM ${t}`);
    assert.deepEqual(await notices(), ['*']);
    await admin.query(`INSERT INTO ${t} (sid, sess, expire) VALUES ${live('x')}`);
    await admin.query(`TRUNCATE ${t}`);
    assert.deepEqual(await notices(), ['*']);
  });

  it('a writer’s search_path cannot swap the functions the trigger calls', async () => {
    const writer = new pg.Client({ connectionString: databaseUrl() });
    await writer.connect();
    try {
      await admin.query(
        `CREATE FUNCTION "${schemaName}".pg_notify(text, text) RETURNS void LANGUAGE sql AS 'SELECT NULL::void'`,
      );
      await writer.query(`SET search_path = "${schemaName}", pg_catalog`);
      await writer.query(`INSERT INTO ${t} (sid, sess, expire) VALUES ${live('shadowed')}`);
      await writer.query(`DELETE FROM ${t}`);
      assert.deepEqual(await notices(), [keys('shadowed')]);
    } finally {
      await writer.end();
    }
  });

  it('migrate adds the triggers to a schema 3 table, off; turned on, they are enabled always', async () => {
    const old = tableNames('old', schemaName);
    for (const statement of createTableStatements(old)) await admin.query(statement);
    for (const trigger of NOTICE_TRIGGERS) await admin.query(`DROP TRIGGER "${trigger}" ON ${old.qualified}`);
    await admin.query(`COMMENT ON TABLE ${old.qualified} IS 'connect-pg-simple schema 3'`);
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    try {
      const result = await migrate(databaseOf(pool), old);
      assert.deepEqual([result.from, result.to], [3, 4]);
    } finally {
      await pool.end();
    }
    const triggers = await admin.query(
      `SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = $1::regclass ORDER BY tgname`,
      [old.qualified],
    );
    assert.deepEqual(
      triggers.map((row) => [row.tgname, row.tgenabled]),
      [...NOTICE_TRIGGERS].sort().map((name) => [name, 'D']),
    );
    await admin.query(switchChangeNoticesStatement(old, true));
    const on = await admin.query(`SELECT DISTINCT tgenabled FROM pg_trigger WHERE tgrelid = $1::regclass`, [
      old.qualified,
    ]);
    assert.deepEqual(on, [{ tgenabled: 'A' }]);
  });
});
