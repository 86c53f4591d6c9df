import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import connectPgSimple from '../src/index.js';
import {
  CHANGE_TRIGGERS,
  changeKeyOf,
  changeLogName,
  cleanUpStatement,
  parseChanges,
  pollStatement,
} from '../src/schema/change-log.js';
import { createTableStatements } from '../src/schema/ddl.js';
import { migrate } from '../src/schema/migrate.js';
import { type TableNames, tableNames } from '../src/sql.js';
import { runCli } from './support/cli.js';
import { databaseUrl, eventually, serverAdmin, uniqueName } from './support/database.js';
import { databaseOf } from './support/legacy.js';

/**
 * The change log (schema 4) in PostgreSQL: what each kind of statement logs, as a poll (the
 * store's own statement) finds it, and how polls and clean-ups see transactions that overlap them.
 */
describe('change log', () => {
  const schemaName = uniqueName('cps_change_log');
  const names = tableNames('session', schemaName);
  const t = names.qualified;
  const admin = serverAdmin();

  /** A poller: each call returns the keys logged since its previous call (sorted, marks apart). */
  function poller(of: TableNames = names) {
    let previous: { xmin: string; xmax: string; xip: string } | undefined;
    return async () => {
      const [row] = await admin.query(pollStatement(of).text, [previous?.xmax ?? null, previous?.xip ?? null]);
      const first = previous === undefined;
      previous = { xmin: row.xmin, xmax: row.xmax, xip: row.xip };
      assert.equal(row.on, 'true', 'the triggers are on');
      const keys: string[] = parseChanges(row.changes)
        .map((change) => change.key)
        .sort();
      if (first) assert.deepEqual(keys, [], 'a first poll returns no keys');
      return { keys: keys.filter((k) => !k.startsWith('-')), marks: keys.filter((k) => k.startsWith('-')), row };
    };
  }
  let poll: ReturnType<typeof poller>;
  const changes = async () => (await poll()).keys;

  const keys = (...storedIds: string[]) => storedIds.map(changeKeyOf).sort();
  const live = (sid: string) => `('${sid}', '{"n":1}', now() + interval '1 hour')`;

  before(async () => {
    await admin.query(`CREATE SCHEMA "${schemaName}"`);
    for (const statement of createTableStatements(names)) await admin.query(statement);
    poll = poller();
    await poll();
  });
  after(async () => {
    await admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await admin.close();
  });

  it('a destroy or a change of a live session logs its key; a touch, an insert, an expired row nothing', async () => {
    await admin.query(
      `INSERT INTO ${t} (sid, sess, expire) VALUES ${live('a')}, ${live('b')}, ${live('c')}, ('old', '{}', now() - interval '1 second')`,
    );
    await admin.query(`UPDATE ${t} SET expire = expire + interval '1 hour', touched = now() WHERE expire > now()`);
    assert.deepEqual(await changes(), [], 'inserts and touches log nothing');

    await admin.query(`UPDATE ${t} SET sess = '{"n":2}' WHERE sid = 'a'`);
    assert.deepEqual(await changes(), keys('a'), 'a change of the session');
    await admin.query(`UPDATE ${t} SET user_id = 'ann' WHERE sid = 'b'`);
    assert.deepEqual(await changes(), keys('b'), 'a change of the user');
    await admin.query(`UPDATE ${t} SET expire = now() + interval '1 minute' WHERE sid = 'c'`);
    assert.deepEqual(await changes(), keys('c'), 'an expiry moved earlier');
    await admin.query(`UPDATE ${t} SET sid = 'a2' WHERE sid = 'a'`);
    assert.deepEqual(await changes(), keys('a'), 'a row re-keyed: its old id');

    await admin.query(`DELETE FROM ${t} WHERE sid = 'old'`);
    assert.deepEqual(await changes(), [], 'a prune of expired rows logs nothing');
    await admin.query(`DELETE FROM ${t}`);
    assert.deepEqual(await changes(), keys('a2', 'b', 'c'), 'every live row the statement deleted');
    assert.deepEqual(await changes(), [], 'a key is returned once');
  });

  it('more than 1000 rows, or a TRUNCATE, forget everything', async () => {
    const insert = (n: number) =>
      admin.query(
        `INSERT INTO ${t} (sid, sess, expire) SELECT 'r' || g, '{}', now() + interval '1 hour' FROM generate_series(1, ${n}) g`,
      );
    await insert(1000);
    await admin.query(`DELETE FROM ${t}`);
    assert.equal((await changes()).length, 1000);
    await insert(1001);
    await admin.query(`DELETE FROM ${t}`);
    assert.deepEqual(await changes(), ['*']);
    await admin.query(`INSERT INTO ${t} (sid, sess, expire) VALUES ${live('x')}`);
    await admin.query(`TRUNCATE ${t}`);
    assert.deepEqual(await changes(), ['*']);
  });

  it('a transaction open during a poll is seen by the first poll after it commits, however long it took', async () => {
    await admin.query(`INSERT INTO ${t} (sid, sess, expire) VALUES ${live('slow')}, ${live('later')}`);
    await changes();
    const writer = new pg.Client({ connectionString: databaseUrl() });
    const late = new pg.Client({ connectionString: databaseUrl() });
    await Promise.all([writer.connect(), late.connect()]);
    try {
      await writer.query('BEGIN');
      await writer.query(`DELETE FROM ${t} WHERE sid = 'slow'`);
      assert.deepEqual(await changes(), [], 'not committed yet');
      // A transaction that starts after that poll and commits first.
      await late.query(`DELETE FROM ${t} WHERE sid = 'later'`);
      assert.deepEqual(await changes(), keys('later'));
      await writer.query('COMMIT');
      assert.deepEqual(await changes(), keys('slow'), 'it was in progress at the previous snapshots');
      assert.deepEqual(await changes(), []);
    } finally {
      await Promise.all([writer.end(), late.end()]);
    }
  });

  it('a clean-up deletes what every later snapshot sees, and a poller that is older finds its mark', async () => {
    const stale = poller();
    const { row } = await stale();
    await admin.query(`INSERT INTO ${t} (sid, sess, expire) VALUES ${live('gone')}`);
    await admin.query(`DELETE FROM ${t}`);
    assert.deepEqual(await changes(), keys('gone'));
    // A horizon past the stale poller's xmin (a new transaction's id: the server's xmin may be held back by
    // other work): rows it has not seen are deleted.
    const [{ xmin }] = await admin.query('SELECT pg_current_xact_id()::text AS xmin');
    assert.ok(BigInt(xmin) > BigInt(row.xmin));
    await admin.query(cleanUpStatement(names).text, [xmin]);
    const [{ left }] = await admin.query(
      `SELECT count(*)::int AS left FROM ${changeLogName(names)} WHERE key NOT LIKE '-%'`,
    );
    assert.equal(left, 0, 'the rows below the horizon are gone');
    const seen = await stale();
    assert.deepEqual(seen.keys, [], 'its key is gone');
    assert.deepEqual(seen.marks, [`-${xmin}`], 'but the mark says so');
    assert.ok(BigInt(xmin) > BigInt(row.xmin), 'newer than its snapshot: it starts over');
    const current = await poll();
    assert.deepEqual(current.marks, [`-${xmin}`], 'an up-to-date poller sees the mark too');
    poll = poller();
    await poll();
  });

  it('a store’s prune trims the log below the xmin its previous prune saw, for when nobody polls', async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    const store = new connectPgSimple.PGStore({ pool, schemaName, pruneSessionInterval: false });
    const logged = async () =>
      (await admin.query(`SELECT key FROM ${changeLogName(names)} ORDER BY xid`)).map((r) => r.key as string);
    try {
      await admin.query(`INSERT INTO ${t} (sid, sess, expire) VALUES ${live('p1')}`);
      const [{ xid }] = await admin.query(`DELETE FROM ${t} RETURNING pg_current_xact_id()::text AS xid`);
      // Other work on the server (the rest of the suite) may hold its xmin back for a while.
      const xminPast = async () =>
        BigInt((await admin.query('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS x'))[0].x) > BigInt(xid);
      assert.ok(await eventually(xminPast, 30_000), 'the server’s xmin passes the delete');
      await store.pruneSessions();
      assert.ok((await logged()).includes(changeKeyOf('p1')), 'the first prune has no older xmin: it deletes nothing');
      await admin.query(`INSERT INTO ${t} (sid, sess, expire) VALUES ${live('p2')}`);
      await admin.query(`DELETE FROM ${t}`);
      await store.pruneSessions();
      const left = await logged();
      assert.ok(!left.includes(changeKeyOf('p1')), 'rows below the first prune’s xmin are gone');
      assert.ok(left.includes(changeKeyOf('p2')), 'rows logged since stay');
      assert.ok(
        left.some((key) => key.startsWith('-')),
        'with a mark',
      );
      assert.deepEqual((await changes()).sort(), keys('p2'), 'a poller up to date is not disturbed');
    } finally {
      await store.close();
      await pool.end();
    }
  });

  it('the CLI’s prune trims the log of the rows logged before it started, for when no store prunes', async () => {
    const logged = async () =>
      (await admin.query(`SELECT key FROM ${changeLogName(names)} ORDER BY xid`)).map((r) => r.key as string);
    await admin.query(`INSERT INTO ${t} (sid, sess, expire) VALUES ${live('c1')}`);
    const [{ xid }] = await admin.query(`DELETE FROM ${t} RETURNING pg_current_xact_id()::text AS xid`);
    const xminPast = async () =>
      BigInt((await admin.query('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS x'))[0].x) > BigInt(xid);
    assert.ok(await eventually(xminPast, 30_000), 'the server’s xmin passes the delete');
    assert.ok((await logged()).includes(changeKeyOf('c1')));
    const run = await runCli(['prune', '--schema', schemaName]);
    assert.equal(run.code, 0, run.stderr);
    const left = await logged();
    assert.ok(!left.includes(changeKeyOf('c1')), 'the row logged before the prune is gone');
    assert.ok(
      left.some((key) => key.startsWith('-')),
      'with a mark for the pollers it was older than',
    );
    const { marks } = await poll();
    assert.ok(marks.length > 0, 'a poller finds the mark');
  });

  it('a role that may prune the sessions but not touch the log prunes, and leaves the log alone', async () => {
    const role = uniqueName('cps_pruner');
    await admin.query(`CREATE ROLE "${role}" LOGIN`);
    await admin.query(`GRANT USAGE ON SCHEMA "${schemaName}" TO "${role}"`);
    await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${t} TO "${role}"`);
    const url = new URL(databaseUrl());
    url.username = role;
    url.password = '';
    const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
    const store = new connectPgSimple.PGStore({ pool, schemaName, pruneSessionInterval: false });
    try {
      await admin.query(`INSERT INTO ${t} (sid, sess, expire) VALUES ${live('kept')}`);
      await admin.query(`DELETE FROM ${t}`);
      await admin.query(`INSERT INTO ${t} (sid, sess, expire) VALUES ('ended', '{}', now() - interval '1 second')`);
      const before = await admin.query(`SELECT key FROM ${changeLogName(names)}`);
      assert.ok(before.length > 0, 'the log holds a row to keep');
      assert.equal(await store.pruneSessions(), 1, 'the expired session is pruned');
      assert.equal(await store.pruneSessions(), 0, 'and again, without an error');
      assert.deepEqual(await admin.query(`SELECT key FROM ${changeLogName(names)}`), before, 'the log is as it was');
      assert.deepEqual((await changes()).sort(), keys('kept'), 'a poller sees what it would have');
    } finally {
      await store.close();
      await pool.end();
      await admin.query(`DROP OWNED BY "${role}"`);
      await admin.query(`DROP ROLE "${role}"`);
    }
  });

  it('a writer’s search_path or temporary table cannot divert what the trigger logs', async () => {
    const writer = new pg.Client({ connectionString: databaseUrl() });
    await writer.connect();
    try {
      await writer.query('CREATE TEMPORARY TABLE session_changes (xid xid8, key text)');
      await writer.query(
        `CREATE FUNCTION pg_temp.sha256(bytea) RETURNS bytea LANGUAGE sql AS 'SELECT ''\\x00''::bytea'`,
      );
      await writer.query(`SET search_path = pg_temp, "${schemaName}", pg_catalog`);
      await writer.query(`INSERT INTO ${t} (sid, sess, expire) VALUES ${live('shadowed')}`);
      await writer.query(`DELETE FROM ${t}`);
      assert.deepEqual(await changes(), keys('shadowed'));
    } finally {
      await writer.end();
    }
  });

  it('migrate adds the log and its triggers, on, to a schema 3 table, and replaces NOTIFY triggers of an earlier schema 4', async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    const triggersOf = async (n: TableNames) =>
      (
        await admin.query(`SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = $1::regclass ORDER BY tgname`, [
          n.qualified,
        ])
      ).map((r) => [r.tgname, r.tgenabled]);
    const on = [...CHANGE_TRIGGERS].sort().map((name) => [name, 'A']);
    try {
      const old = tableNames('old', schemaName);
      for (const statement of createTableStatements(old)) await admin.query(statement);
      for (const trigger of CHANGE_TRIGGERS) await admin.query(`DROP TRIGGER "${trigger}" ON ${old.qualified}`);
      await admin.query(`DROP TABLE ${changeLogName(old)}`);
      await admin.query(`COMMENT ON TABLE ${old.qualified} IS 'connect-pg-simple schema 3'`);
      const result = await migrate(databaseOf(pool), old);
      assert.deepEqual([result.from, result.to], [3, 4]);
      assert.deepEqual(await triggersOf(old), on);
      const oldPoll = poller(old);
      await oldPoll();
      await admin.query(`INSERT INTO ${old.qualified} (sid, sess, expire) VALUES ${live('m')}`);
      await admin.query(`DELETE FROM ${old.qualified}`);
      assert.deepEqual((await oldPoll()).keys, keys('m'));

      // Schema 4 as an earlier build made it: NOTIFY triggers, off, and no log.
      const notifying = tableNames('notifying', schemaName);
      for (const statement of createTableStatements(notifying)) await admin.query(statement);
      await admin.query(`DROP TABLE ${changeLogName(notifying)}`);
      await admin.query(
        `CREATE OR REPLACE FUNCTION "${schemaName}".notifying_changed() RETURNS trigger LANGUAGE plpgsql AS $f$BEGIN PERFORM pg_notify(TG_ARGV[0], '*'); RETURN NULL; END$f$`,
      );
      for (const trigger of CHANGE_TRIGGERS) await admin.query(`DROP TRIGGER "${trigger}" ON ${notifying.qualified}`);
      await admin.query(
        `CREATE TRIGGER cps_changed_delete AFTER DELETE ON ${notifying.qualified} FOR EACH STATEMENT EXECUTE FUNCTION "${schemaName}".notifying_changed('cps_x')`,
      );
      await admin.query(`ALTER TABLE ${notifying.qualified} DISABLE TRIGGER cps_changed_delete`);
      const again = await migrate(databaseOf(pool), notifying);
      assert.deepEqual([again.from, again.to, again.steps.length], [4, 4, 1]);
      assert.deepEqual(await triggersOf(notifying), on);
      const [{ def }] = await admin.query(
        `SELECT pg_get_functiondef('"${schemaName}".notifying_changed'::regproc) AS def`,
      );
      assert.doesNotMatch(def, /pg_notify/);
      const repeated = await migrate(databaseOf(pool), notifying);
      assert.deepEqual(repeated.steps, [], 'then it is current');
    } finally {
      await pool.end();
    }
  });
});
