import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { fromPGlite } from '../src/drivers/pglite.js';
import { SchemaError } from '../src/errors.js';
import connectPgSimple from '../src/index.js';
import { SCHEMA_VERSION } from '../src/schema/ddl.js';
import { migrate, migrationStatement } from '../src/schema/migrate.js';
import { MIGRATIONS } from '../src/schema/migrations.js';
import { SCHEMA_LOCK_NAMESPACE, tableNames } from '../src/sql.js';
import { type Admin, databaseUrl, serverAdmin, uniqueName } from './support/database.js';
import {
  databaseOf,
  fillWithLegacySessions,
  legacyGet,
  legacySet,
  legacyStore,
  legacyTableSql,
  poolInTimeZone,
} from './support/legacy.js';
import { newPGlite } from './support/pglite.js';
import { assertSameSession, storedId } from './support/sessions.js';

const { PGStore } = connectPgSimple;

describe('schema migrations', () => {
  let admin: Admin;
  let schemaName: string;
  const pools: pg.Pool[] = [];
  const pool = (timeZone = 'UTC', max = 4) => {
    const p = poolInTimeZone(timeZone, max);
    pools.push(p);
    return p;
  };
  const names = (table: string) => tableNames(table, schemaName);
  const qualified = (table: string) => names(table).qualified;
  const legacyTable = async (table: string) => {
    await admin.query(legacyTableSql(schemaName, table));
    return names(table);
  };

  /** What a migration must get right, read from the catalog. */
  const shapeOf = async (table: string) => {
    const [row] = await admin.query(
      `SELECT obj_description(c.oid, 'pg_class') AS comment, c.reloptions::text AS options,
        (SELECT json_object_agg(attname, format_type(atttypid, atttypmod) || ' ' || coalesce(collname, '-') || ' ' || attnotnull)
           FROM pg_attribute LEFT JOIN pg_collation co ON co.oid = attcollation AND attcollation <> 0 AND collname <> 'default'
           WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped)::text AS columns,
        (SELECT count(*)::int FROM pg_index i WHERE i.indrelid = c.oid AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = c.oid AND attname = 'expire')) AS expire_indexes,
        (SELECT count(*)::int FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_keys
       FROM pg_class c WHERE c.oid = to_regclass($1)`,
      [qualified(table)],
    );
    return row;
  };
  /** `expected`, keyed as a migrated table (hashed ids, the default) keys its rows. */
  const hashedKeys = <T>(expected: Map<string, T>) => new Map([...expected].map(([sid, v]) => [storedId(sid), v]));
  const expiries = async (table: string) =>
    new Map(
      (await admin.query(`SELECT sid, extract(epoch FROM expire)::float8 AS at FROM ${qualified(table)}`)).map((r) => [
        r.sid as string,
        Number(r.at),
      ]),
    );

  before(async () => {
    admin = serverAdmin();
    schemaName = uniqueName('cps_migrate');
    await admin.query(`CREATE SCHEMA "${schemaName}"`);
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await admin.close();
  });

  it('lists migrations as consecutive versions up to SCHEMA_VERSION', () => {
    assert.deepEqual(
      MIGRATIONS.map((m) => m.version),
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
  });

  it('upgrades a table 10.x made and filled, while a store keeps serving it', async () => {
    // Every connection of this "application" uses a TimeZone other than UTC, as 10.x's did.
    const zone = 'America/New_York';
    const appPool = pool(zone, 6);
    const legacy = legacyStore(appPool, schemaName);
    const expected = await fillWithLegacySessions(legacy, 60);
    assert.equal((await shapeOf('session')).comment, null, 'a 10.x table has no version');

    const store = new PGStore({ pool: appPool, schemaName, pruneSessionInterval: false, errorLog: () => {} });
    const errors: unknown[] = [];
    const written = new Map<string, number>();
    let operations = 0;
    let running = true;
    const traffic = (async () => {
      for (let i = 0; running; i++) {
        try {
          const sid = `legacy-${(i * 7) % 60}`;
          const session = (await store.get(sid)) as any;
          if (i % 5 === 0) assert.equal(session, null, `${sid} expired before the migration`);
          else assert.equal(session?.user?.id, (i * 7) % 60);
          const expires = new Date(Date.now() + 3_600_000).toISOString();
          await store.set(`new-${i}`, { cookie: { originalMaxAge: 3_600_000, expires }, n: i } as any);
          written.set(`new-${i}`, i);
          operations++;
        } catch (error) {
          errors.push(error);
        }
      }
    })();
    while (operations < 20) await new Promise((r) => setTimeout(r, 5));
    const before = operations;
    // The migrating connection uses the same TimeZone, so the default (its own) is right.
    const result = await migrate(databaseOf(pool(zone, 1)), names('session'));
    const during = operations;
    while (operations < during + 20) await new Promise((r) => setTimeout(r, 5));
    running = false;
    await traffic;

    assert.deepEqual(errors, []);
    assert.ok(before >= 20 && operations >= during + 20, 'the store worked before and after the migration');
    assert.deepEqual({ from: result.from, to: result.to, applied: result.applied }, { from: 0, to: 4, applied: true });
    const shape = await shapeOf('session');
    assert.equal(shape.comment, 'connect-pg-simple schema 4');
    assert.deepEqual(JSON.parse(shape.columns), {
      sid: 'text C true',
      sess: 'json - true',
      expire: 'timestamp(6) with time zone - true',
      created: 'timestamp(6) with time zone - true',
      user_id: 'text C false',
      details: 'json - false',
      touched: 'timestamp(6) with time zone - true',
    });
    assert.equal(shape.options, '{fillfactor=90}');
    assert.equal(shape.expire_indexes, 1, "10.x's index on expire was kept, not doubled");
    assert.equal(shape.primary_keys, 1);

    // Every session keeps the instant 10.x meant, whatever TimeZone reads it now.
    const stored = await expiries('session');
    for (const [sid, at] of expected) assert.equal(stored.get(storedId(sid)), at, `${sid} keeps its expiry`);
    assert.ok(
      [...stored.keys()].every((id) => /^[0-9a-f]{64}$/.test(id)),
      'the table holds hashed ids only, those written during the migration included',
    );
    const reader = new PGStore({ pool: pool('Asia/Tokyo'), schemaName, pruneSessionInterval: false });
    for (const [sid, at] of expected) {
      const session = (await reader.get(sid)) as any;
      if (at * 1000 < Date.now()) assert.equal(session, null, `${sid} is still expired`);
      else assert.equal(session?.user?.name, `user ${sid.slice('legacy-'.length)}`, `${sid} is readable`);
    }
    for (const [sid, n] of written) assert.equal(((await reader.get(sid)) as any)?.n, n, `${sid} is readable`);
    // 10.x looks ids up as they are: its instances must be replaced by 11 before hashing migrates them.
    assert.equal(await legacyGet(legacy, 'legacy-1'), undefined);
    await Promise.all([store.close(), reader.close(), legacy.close()]);
  });

  it('upgrades with --session-ids plain: 10.x keeps working on the upgraded table', async () => {
    const legacyNames = await legacyTable('plain_ids');
    const legacy = legacyStore(pool('UTC'), schemaName, 'plain_ids');
    const expected = await fillWithLegacySessions(legacy, 10);
    await migrate(databaseOf(pool('UTC', 1)), legacyNames, { idForm: 'plain' });
    assert.deepEqual(await expiries('plain_ids'), expected);
    assert.equal((await legacyGet(legacy, 'legacy-1')).user.id, 1);
    await legacySet(legacy, 'from-10x', { cookie: { expires: new Date(Date.now() + 60_000).toISOString() } });
    const reader = new PGStore({ pool: pool('UTC'), schemaName, tableName: 'plain_ids', hashSessionIds: false });
    assert.ok(await reader.get('from-10x'));
    // A store hashing ids refuses the table rather than miss every session.
    const hashing = new PGStore({ pool: pool('UTC'), schemaName, tableName: 'plain_ids' });
    await assert.rejects(
      () => hashing.get('from-10x'),
      (error: any) =>
        error instanceof SchemaError && /stores session ids as plain.*hashSessionIds: false/.test(error.message),
    );
    await Promise.all([reader.close(), hashing.close(), legacy.close()]);
  });

  it("reads 10.x's local times in the TimeZone it is told", async () => {
    const legacyNames = await legacyTable('zoned');
    const legacy = legacyStore(pool('Asia/Kolkata'), schemaName, 'zoned');
    const expected = await fillWithLegacySessions(legacy, 10);
    const dryRun = await migrate(databaseOf(pool('UTC', 1)), legacyNames, {
      dryRun: true,
      legacyTimeZone: 'Asia/Kolkata',
    });
    assert.match(dryRun.sql, /set_config\('TimeZone', 'Asia\/Kolkata', true\)/);
    await migrate(databaseOf(pool('UTC', 1)), legacyNames, { legacyTimeZone: 'Asia/Kolkata' });
    assert.deepEqual(await expiries('zoned'), hashedKeys(expected));
    await legacy.close();
  });

  it('migrates once when several connections migrate at once', async () => {
    const legacyNames = await legacyTable('raced');
    const legacy = legacyStore(pool('Europe/Berlin'), schemaName, 'raced');
    const expected = await fillWithLegacySessions(legacy, 20);
    await legacy.close();
    const clients = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const client = new pg.Client({ connectionString: databaseUrl(), options: '-c TimeZone=Europe/Berlin' });
        await client.connect();
        return client;
      }),
    );
    try {
      const results = await Promise.all(clients.map((c) => migrate(databaseOf(c), legacyNames)));
      assert.ok(results.every((r) => r.from === 0 && r.to === SCHEMA_VERSION));
      const created = await Promise.all(clients.map((c) => migrate(databaseOf(c), names('raced_new'))));
      assert.ok(created.every((r) => r.from === undefined));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    assert.deepEqual(await expiries('raced'), hashedKeys(expected), 'ids hashed once, not once per migrator');
    assert.equal((await shapeOf('raced')).expire_indexes, 1);
    assert.equal((await shapeOf('raced_new')).comment, 'connect-pg-simple schema 4');
  });

  it('takes a 10.x table and a new one to the same shape', async () => {
    await legacyTable('shape_old');
    await migrate(databaseOf(pool('UTC', 1)), names('shape_old'));
    await migrate(databaseOf(pool('UTC', 1)), names('shape_new'));
    const [old, fresh] = [await shapeOf('shape_old'), await shapeOf('shape_new')];
    assert.deepEqual(old, fresh);
  });

  it("keeps the store's prepared statements valid across the migration", async () => {
    await legacyTable('prepared');
    // One connection, so every statement prepared before the migration is reused after it.
    const store = new PGStore({ pool: pool('UTC', 1), schemaName, tableName: 'prepared', pruneSessionInterval: false });
    await store.set('p', { cookie: { expires: new Date(Date.now() + 60_000).toISOString() } } as any);
    const before = [await store.all(), await store.get('p'), await store.length()];
    await migrate(databaseOf(pool('UTC', 1)), names('prepared'));
    const [all, got, length] = [await store.all(), await store.get('p'), await store.length()];
    // Listed by the id the table holds: plain before the migration, hashed after.
    const withId = (listed: any, id: string) => listed.map((s: any) => ({ ...s, id }));
    assert.deepEqual([withId(all, 'p'), length], [before[0], before[2]]);
    assert.equal((all as any)[0].id, storedId('p'));
    assertSameSession(got, before[1]);
    await store.close();
  });

  it('adds an index on expire when the table has none', async () => {
    await legacyTable('no_index');
    await admin.query(`DROP INDEX "${schemaName}"."IDX_no_index_expire"`);
    await migrate(databaseOf(pool('UTC', 1)), names('no_index'));
    const [index] = await admin.query(
      `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'no_index' AND indexdef LIKE '%(expire)'`,
      [schemaName],
    );
    assert.equal(index?.indexname, 'no_index_expire_idx');
  });

  it('refuses a table made by a newer version, also when it changes under the lock', async () => {
    const db = databaseOf(pool('UTC', 1));
    await migrate(db, names('future'));
    await admin.query(`COMMENT ON TABLE ${qualified('future')} IS 'connect-pg-simple schema 99'`);
    await assert.rejects(
      () => migrate(db, names('future')),
      (error: any) => error instanceof SchemaError && /schema version 99, newer/.test(error.message),
    );
    // A statement planned for version 0 re-reads the version after taking its lock.
    const planned = migrationStatement(names('future'), 0, { legacyTimeZone: 'UTC', idForm: 'sha256' }).sql;
    await assert.rejects(
      () => admin.query(planned),
      (error: any) => error.code === '0A000' && /newer than this package/.test(error.message),
    );
    await admin.query(`COMMENT ON TABLE ${qualified('future')} IS NULL`);
    const createPlanned = migrationStatement(names('future'), undefined, {
      legacyTimeZone: 'UTC',
      idForm: 'sha256',
    }).sql;
    await assert.rejects(
      () => admin.query(createPlanned),
      (error: any) => error.code === '40001',
    );
  });

  it('works through other drivers: PGlite', async () => {
    const db = await newPGlite();
    try {
      await db.exec(`SET TimeZone = 'Europe/Berlin'; ${legacyTableSql('public', 'session')}`);
      await db.query(`INSERT INTO "session" VALUES ('a', '{}', to_timestamp(1700000000))`);
      const result = await migrate(fromPGlite(db), tableNames('session'));
      assert.equal(result.from, 0);
      const { rows } = await db.query<any>(
        `SELECT extract(epoch FROM expire)::int AS at, obj_description('session'::regclass) AS comment FROM "session"`,
      );
      assert.deepEqual(rows, [{ at: 1_700_000_000, comment: 'connect-pg-simple schema 4' }]);
      const [row] = (await db.query<any>('SELECT sid FROM "session"')).rows;
      assert.equal(row.sid, storedId('a'), "PGlite's sha256() hashes as node:crypto does");
    } finally {
      await db.close();
    }
  });

  it('refuses a table without the session columns', async () => {
    await admin.query(`CREATE TABLE ${qualified('other')} (id int)`);
    await assert.rejects(
      () => migrate(databaseOf(pool('UTC', 1)), names('other')),
      (error: any) => error.code === '42703' && /not a session table/.test(error.message),
    );
  });

  it('gives up after lockTimeoutSeconds while another migration holds the schema lock', {
    timeout: 60_000,
  }, async () => {
    const holder = new pg.Client({ connectionString: databaseUrl() });
    await holder.connect();
    // Should migrate wait for the lock regardless, letting go of it turns the hang into a failure.
    const letGo = setTimeout(() => holder.end(), 30_000);
    try {
      const key = [SCHEMA_LOCK_NAMESPACE, qualified('lock_wait')];
      await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', key);
      for (const from of ['no table', '10.x table']) {
        if (from === '10.x table') await legacyTable('lock_wait');
        await assert.rejects(
          () => migrate(databaseOf(pool('UTC', 1)), names('lock_wait'), { lockTimeoutSeconds: 1 }),
          (error: any) => error.code === '55P03',
          from,
        );
      }
    } finally {
      clearTimeout(letGo);
      await holder.end().catch(() => {});
    }
  });

  it('dry run writes nothing, and its SQL does the migration when run as is', async () => {
    const db = databaseOf(pool('UTC', 1));
    const missing = await migrate(db, names('dry_new'), { dryRun: true });
    assert.equal(missing.applied, false);
    assert.match(missing.sql, /CREATE TABLE IF NOT EXISTS/);
    assert.equal((await admin.query(`SELECT to_regclass($1) AS r`, [qualified('dry_new')]))[0]!.r, null);

    await legacyTable('dry_old');
    const before = await shapeOf('dry_old');
    const planned = await migrate(db, names('dry_old'), { dryRun: true, lockTimeoutSeconds: 5 });
    assert.equal(planned.from, 0);
    assert.match(planned.sql, /ALTER TABLE .* TYPE timestamptz/);
    assert.match(planned.sql, /lock_timeout', '5000ms'/);
    assert.deepEqual(await shapeOf('dry_old'), before);

    await admin.query(planned.sql);
    assert.equal((await shapeOf('dry_old')).comment, 'connect-pg-simple schema 4');
    const again = await migrate(db, names('dry_old'));
    assert.deepEqual({ ...again }, { from: 4, to: 4, steps: [], sql: '', applied: false });
  });
});
