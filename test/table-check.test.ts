import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { SchemaError } from '../src/errors.js';
import connectPgSimple from '../src/index.js';
import { databaseUrl, eventually, uniqueName } from './support/database.js';

const { PGStore } = connectPgSimple;

/** The store checks the table is a session table before it reads, writes or prunes anything. */
describe('a table that is not a session table', () => {
  let pool: pg.Pool;
  let schemaName: string;
  const stores: InstanceType<typeof PGStore>[] = [];
  const newStore = (tableName: string, options: Record<string, unknown> = {}) => {
    const store = new PGStore({ pool, schemaName, tableName, pruneSessionInterval: false, ...options });
    stores.push(store);
    return store;
  };
  const rows = async (table: string) =>
    (await pool.query(`SELECT count(*)::int AS n FROM "${schemaName}"."${table}"`)).rows[0].n as number;

  before(async () => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
    schemaName = uniqueName('cps_check');
    await pool.query(`CREATE SCHEMA "${schemaName}"`);
    // A table of the application's, with an `expire` column and rows that look expired.
    await pool.query(`CREATE TABLE "${schemaName}"."invites" (id int, expire timestamptz)`);
    await pool.query(
      `INSERT INTO "${schemaName}"."invites" SELECT g, now() - interval '1 day' FROM generate_series(1, 10) g`,
    );
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await pool.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await pool.end();
  });

  const refusal = (column: RegExp) => (error: unknown) => {
    assert.ok(error instanceof SchemaError, `a SchemaError: ${error}`);
    assert.match(error.message, /table "cps_check_[0-9a-f]+"\."\w+" is not a session table/);
    assert.match(error.message, column);
    assert.match(error.message, /check tableName and schemaName/);
    return true;
  };

  it('is refused by every operation, with createTableIfMissing too', async () => {
    for (const createTableIfMissing of [false, true]) {
      const store = newStore('invites', { createTableIfMissing });
      await assert.rejects(() => store.get('x'), refusal(/it has no "sid" column/));
      await assert.rejects(() => store.set('x', { cookie: {} } as any), refusal(/no "sid"/));
      await assert.rejects(() => store.length(), refusal(/no "sid"/));
    }
  });

  it('is never pruned: not by pruneSessions(), not by the automatic prune', async () => {
    await assert.rejects(() => newStore('invites').pruneSessions(), refusal(/no "sid"/));
    const logged: unknown[][] = [];
    const store = newStore('invites', {
      pruneSessionInterval: 0.05,
      pruneSessionRandomizedInterval: false,
      errorLog: (...args: unknown[]) => logged.push(args),
    });
    store.length(() => {}); // starts the automatic prune
    assert.ok(await eventually(async () => logged.length >= 2, 10_000), 'the automatic prunes failed and were logged');
    assert.match(String(logged[0]![0]), /failed to prune/);
    refusal(/no "sid"/)(logged[0]![1]);
    assert.equal(await rows('invites'), 10, 'no row was deleted');
  });

  it('names a column of the wrong type, with its SQLSTATE', async () => {
    const t = (name: string) => `"${schemaName}"."${name}"`;
    await pool.query(`CREATE TABLE ${t('int_ids')} (sid int, sess json, expire timestamptz)`);
    await pool.query(`CREATE TABLE ${t('text_sess')} (sid text, sess text, expire timestamptz)`);
    await pool.query(`CREATE TABLE ${t('date_expire')} (sid text, sess jsonb, expire date)`);
    await pool.query(`CREATE TABLE ${t('no_sess')} (sid text, expire timestamptz)`);
    for (const [table, message, code] of [
      ['int_ids', /its "sid" column is integer, not text or character varying/, '42804'],
      ['text_sess', /its "sess" column is text, not json or jsonb/, '42804'],
      ['date_expire', /its "expire" column is date, not timestamp with time zone or timestamp/, '42804'],
      ['no_sess', /it has no "sess" column/, '42703'],
    ] as const) {
      await assert.rejects(
        () => newStore(table).get('x'),
        (error: any) => refusal(message)(error) && error.code === code,
      );
    }
  });

  it('is refused as newer, not as foreign, when a newer version of this package made it', async () => {
    await pool.query(`CREATE TABLE "${schemaName}"."future" (id bigint, data bytea)`);
    await pool.query(`COMMENT ON TABLE "${schemaName}"."future" IS 'connect-pg-simple schema 99'`);
    await assert.rejects(
      () => newStore('future').get('x'),
      (error: Error) => error instanceof SchemaError && /newer than this package understands/.test(error.message),
    );
  });

  it('accepts the column types 10.x and its users had: varchar ids, jsonb, timestamp', async () => {
    await pool.query(
      `CREATE TABLE "${schemaName}"."custom" (sid varchar PRIMARY KEY, sess jsonb NOT NULL, expire timestamp NOT NULL)`,
    );
    const store = newStore('custom');
    await store.set('a', { cookie: { maxAge: 60_000 }, n: 1 } as any);
    assert.equal(((await store.get('a')) as any).n, 1);
  });
});
