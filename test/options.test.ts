import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import session from 'express-session';
import pg from 'pg';
import connectPgSimple, { PGStore } from '../src/index.js';
import { databaseUrl } from './support/database.js';

const rejects = (options: unknown, pattern: RegExp) =>
  assert.throws(
    () => new PGStore(options as any),
    (error: Error) => error instanceof TypeError && pattern.test(error.message),
  );

describe('options are checked at construction', () => {
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });

  it('names an unknown option, with a hint for a near miss', () => {
    rejects({ pgNativePool: pool }, /unknown option "pgNativePool" \(did you mean "pool"\?\)/);
    rejects({ pool, tablename: 'x' }, /unknown option "tablename" \(did you mean "tableName"\?\)/);
    rejects({ pool, colour: 'blue' }, /unknown option "colour"$/);
  });

  it('names an option of the wrong type or an impossible value', () => {
    rejects({ pool: 'postgres://x' }, /"pool" must be a pg.Pool/);
    rejects({ pgPromise: {} }, /"pgPromise" must be a pg-promise database/);
    rejects({ postgres: pool }, /"postgres" must be a postgres.js sql instance/);
    rejects({ pglite: pool }, /"pglite" must be a PGlite instance/);
    rejects({ pool, ttl: '1d' }, /"ttl" must be a number > 0, got "1d"/);
    rejects({ pool, ttl: -5 }, /"ttl"/);
    rejects({ pool, ttl: Number.NaN }, /"ttl"/);
    rejects({ pool, tableName: '' }, /"tableName" must be a non-empty string/);
    rejects({ pool, tableName: 'a\u0000b' }, /"tableName" must be a string without NUL/);
    rejects({ pool, schemaName: 42 }, /"schemaName"/);
    rejects({ pool, pruneSessionInterval: 0 }, /"pruneSessionInterval" must be a number > 0/);
    rejects({ pool, pruneSessionInterval: true }, /"pruneSessionInterval"/);
    rejects({ pool, pruneSessionRandomizedInterval: true }, /"pruneSessionRandomizedInterval"/);
    rejects({ pool, pruneBatchSize: 1.5 }, /"pruneBatchSize" must be a whole number/);
    rejects({ pool, createTableIfMissing: 'yes' }, /"createTableIfMissing" must be a boolean/);
    rejects({ pool, disableTouch: 1 }, /"disableTouch" must be a boolean/);
    rejects({ pool, touchAfter: -1 }, /"touchAfter"/);
    rejects({ pool, errorLog: 'console' }, /"errorLog" must be a function/);
    rejects({ pool, conObject: 'postgres://x' }, /"conObject"/);
    rejects({ pool, maxSessionSize: 0 }, /"maxSessionSize"/);
    rejects({ pool, readCache: true }, /"readCache" must be a number of milliseconds from 0 to 300000, or false/);
    rejects({ pool, readCache: -1 }, /"readCache"/);
    rejects({ pool, readCache: 300_001 }, /"readCache"/);
    rejects({ pool, readCache: '1s' }, /"readCache"/);
    rejects({ conString: 'postgres://x', pipeline: 'yes' }, /"pipeline" must be a boolean/);
    rejects(
      { pool, pipeline: true },
      /option "pipeline" works only with a database the store connects to itself .*not with "pool"/,
    );
    rejects('postgres://x', /options must be an object/);
  });

  it('refuses two databases at once, and the 10.x schema-in-tableName form', () => {
    rejects({ pool, pglite: { query() {}, exec() {} } }, /"pool" and "pglite" each name a database/);
    rejects({ pool, tableName: 'myschema"."sessions' }, /put the schema in "schemaName"/);
  });

  it('refuses names longer than PostgreSQL keeps (63 bytes), which it would cut short', () => {
    rejects(
      { pool, tableName: 'x'.repeat(64) },
      /tableName is 64 bytes long in UTF-8, more than PostgreSQL's limit of 63/,
    );
    rejects({ pool, schemaName: 'é'.repeat(32) }, /schemaName is 64 bytes long/);
    const longest = new PGStore({ pool, tableName: 'x'.repeat(63), schemaName: 'é'.repeat(31) });
    void longest.close();
  });

  it('needs express-session (or Connect) for the factory', () => {
    assert.throws(() => connectPgSimple({} as any), /pass express-session/);
    assert.equal(connectPgSimple(session), connectPgSimple(session), 'one class per Store base');
    const Connect3Style = connectPgSimple({ session } as any);
    assert.ok(new Connect3Style({ pool }) instanceof session.Store);
  });

  it('falls back to DATABASE_URL when no database is named', async () => {
    const saved = process.env.DATABASE_URL;
    const url = new URL(databaseUrl());
    url.pathname = '/cps_no_such_database';
    process.env.DATABASE_URL = url.toString();
    const store = new PGStore({ pruneSessionInterval: false });
    process.env.DATABASE_URL = saved;
    try {
      await assert.rejects(
        () => store.length(),
        (error: any) => error.code === '3D000',
      );
    } finally {
      await store.close();
      await pool.end();
    }
  });
});
