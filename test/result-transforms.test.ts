import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import pgPromise from 'pg-promise';
import postgres from 'postgres';
import { databaseUrl, eventually, uniqueName } from './support/database.js';
import { type Store, useSchemaStores } from './support/driver-stores.js';
import { pastTheCacheBound, storedId } from './support/sessions.js';

const session = (n: number, userId?: string) => ({
  cookie: { originalMaxAge: 600_000, expires: new Date(Date.now() + 600_000).toISOString() },
  n,
  ...(userId === undefined ? {} : { userId }),
});

const camelCase = (name: string) => name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

/**
 * What a store must still do when the application's driver renames result columns: check the
 * table, read and update sessions, read the row's user (`user_id`), and see a revocation made
 * elsewhere (the trusted cache's polls read the change log's columns by name).
 */
async function servesSessions(store: Store, revokeElsewhere: (sid: string) => Promise<unknown>): Promise<void> {
  await store.set('a', session(1, 'alice') as any);
  await store.set('b', session(2, 'alice') as any);
  const a = (await store.get('a')) as any;
  assert.equal(a.n, 1);
  a.n = 10;
  await store.set('a', a);
  assert.equal(((await store.get('a')) as any).n, 10, 'a loaded session is updated');
  assert.equal((await store.userSessions('alice')).length, 2, "the row's user_id was read");
  assert.equal(await store.destroyUserSessions('alice', { except: 'a' }), 1);
  assert.equal(await store.get('b'), null);
  assert.equal(await store.length(), 1);
  await store.get('a');
  await revokeElsewhere('a');
  await pastTheCacheBound();
  assert.equal(await store.get('a'), null, 'a session deleted elsewhere is gone');
}

describe("pg-promise: the store's statements go to its pool, untouched by its hooks", () => {
  const { newStore, table, admin } = useSchemaStores('cps_pg_promise', { errorLog: () => {} });
  /** What pg-promise's hooks saw: none of it may be the store's. */
  const seenByHooks: string[] = [];
  // The pattern of pg-promise's own docs: every column of every result renamed to camelCase.
  const pgp = pgPromise({
    noWarnings: true,
    query: (event) => void seenByHooks.push(String(event.query)),
    receive: ({ data }) => {
      for (const row of data ?? []) {
        for (const name of Object.keys(row)) {
          const renamed = camelCase(name);
          if (renamed === name) continue;
          row[renamed] = row[name];
          delete row[name];
        }
      }
    },
  });
  const db = pgp(databaseUrl());
  after(() => pgp.end());

  it('a receive hook that renames columns cannot break the table check, reads, per-user sessions or the cache', async () => {
    const name = uniqueName('camel');
    const store = newStore({ pgPromise: db, tableName: name });
    await servesSessions(store, (sid) => admin.query(`DELETE FROM ${table(name)} WHERE sid = $1`, [storedId(sid)]));
    assert.deepEqual(seenByHooks, [], "pg-promise's query hook saw none of the store's statements");
    // The application's own statements still go through pg-promise, hooks and all.
    const [row] = await db.any('SELECT 1 AS some_value');
    assert.deepEqual(row, { someValue: 1 });
    assert.equal(seenByHooks.length, 1);
  });
});

describe("postgres.js: an sql instance's column transform does not rename the store's columns", () => {
  const { newStore, table, admin } = useSchemaStores('cps_postgres_transform', { errorLog: () => {} });
  const instances: postgres.Sql[] = [];
  /** The store's reads of a session row sent through the instances. */
  let reads = 0;
  const sqlWith = (transform: postgres.Options<Record<string, postgres.PostgresType>>['transform']) => {
    const sql = postgres(databaseUrl(), { max: 2, onnotice: () => {}, transform });
    instances.push(sql);
    const unsafe = sql.unsafe.bind(sql) as (...args: unknown[]) => unknown;
    (sql as { unsafe: unknown }).unsafe = (text: string, ...rest: unknown[]) => {
      if (text.includes(' AS remaining')) reads++;
      return unsafe(text, ...rest);
    };
    return sql;
  };
  after(() => Promise.all(instances.map((sql) => sql.end({ timeout: 1 }))));

  for (const [named, transform] of [
    ['camel', postgres.camel],
    ['pascal', postgres.pascal],
    ['kebab', postgres.kebab],
  ] as const) {
    it(`transform: postgres.${named}`, async () => {
      const name = uniqueName(named);
      const sql = sqlWith(transform);
      const store = newStore({ postgres: sql, tableName: name });
      await store.set('cached', session(3) as any);
      // The trusted cache's polls read the change log's columns by name: they must not be renamed either.
      const answeredFromMemory = async () => {
        const before = reads;
        return (await store.get('cached')) !== null && reads === before;
      };
      assert.ok(await eventually(answeredFromMemory, 10_000), 'a get is answered from memory');
      await store.destroy('cached');
      await servesSessions(store, (sid) => admin.query(`DELETE FROM ${table(name)} WHERE sid = $1`, [storedId(sid)]));
      // The application's own queries keep their transform.
      const [row] = await sql`SELECT 1 AS some_value`;
      assert.deepEqual(Object.keys(row!), [
        named === 'camel' ? 'someValue' : named === 'pascal' ? 'SomeValue' : 'some-value',
      ]);
    });
  }

  it('a column transform with no way back is refused when the store is made, saying what to do', async () => {
    const sql = sqlWith({ column: { from: camelCase } });
    assert.throws(
      () => newStore({ postgres: sql, tableName: uniqueName('oneway') }),
      (error: any) => {
        assert.equal(error.code, 'ERR_INVALID_OPTION');
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /renames result columns .*postgres\.camel/);
        return true;
      },
    );
    await sleep(0);
  });
});

describe("pg: the application's own parser for booleans", () => {
  const { newStore, table, admin } = useSchemaStores('cps_bool_parser', { errorLog: () => {} });
  // A pool's own type parsers (as pg.types.setTypeParser would set them for every pool): booleans as 1 and 0.
  const pool = new pg.Pool({
    connectionString: databaseUrl(),
    max: 2,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 16 ? (value: string) => (value === 't' ? 1 : 0) : pg.types.getTypeParser(oid, format)) as never,
    },
  });
  after(() => pool.end());

  it('the table check, the prune and the trusted cache read their answers all the same', async () => {
    assert.equal((await pool.query('SELECT true AS yes')).rows[0].yes, 1, 'the parser is in use');
    const name = uniqueName('bools');
    const store = newStore({ pool, tableName: name });
    await servesSessions(store, (sid) => admin.query(`DELETE FROM ${table(name)} WHERE sid = $1`, [storedId(sid)]));
    await admin.query(
      `INSERT INTO ${table(name)} (sid, sess, expire) VALUES ('gone', '{}', now() - interval '1 hour')`,
    );
    assert.equal(await store.pruneSessions(), 1, 'the prune took its lock and deleted the expired row');
  });
});

describe('a query function given as pool that renames the columns of results', () => {
  const { newStore } = useSchemaStores('cps_renamed_columns', { errorLog: () => {} });
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
  after(() => pool.end());

  it('is told so at the first operation, with what to do, rather than as a table that is not a session table', async () => {
    // As a Kysely instance with CamelCasePlugin, wrapped as the README's "Any object with query()".
    const camelCasing = {
      query: async (text: string, values: unknown[]) => ({
        rows: (await pool.query(text, values)).rows.map((row) =>
          Object.fromEntries(Object.entries(row).map(([name, value]) => [camelCase(name), value])),
        ),
      }),
    };
    const store = newStore({ pool: camelCasing, tableName: uniqueName('renamed') });
    await assert.rejects(store.get('a'), (error: any) => {
      assert.equal(error.code, 'ERR_INVALID_RETURN_VALUE');
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /lacks the columns it asked for \(sid_type, sess_type/);
      assert.match(error.message, /it has .*sidType/);
      assert.match(error.message, /renames the columns of results/);
      return true;
    });
  });
});
