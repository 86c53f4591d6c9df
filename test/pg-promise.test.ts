import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pgPromise from 'pg-promise';
import { databaseUrl, uniqueName } from './support/database.js';
import { useSchemaStores } from './support/driver-stores.js';

const session = (n: number, userId?: string) => ({
  cookie: { originalMaxAge: 600_000, expires: new Date(Date.now() + 600_000).toISOString() },
  n,
  ...(userId === undefined ? {} : { userId }),
});

const camelCase = (name: string) => name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

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

  it('a receive hook that renames columns cannot break the table check, reads or per-user sessions', async () => {
    const name = uniqueName('camel');
    const store = newStore({ pgPromise: db, tableName: name });
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
    assert.equal((await admin.query(`SELECT count(*)::int AS n FROM ${table(name)}`))[0]!.n, 1);
    assert.deepEqual(seenByHooks, [], "pg-promise's query hook saw none of the store's statements");
    // The application's own statements still go through pg-promise, hooks and all.
    const [row] = await db.any('SELECT 1 AS some_value');
    assert.deepEqual(row, { someValue: 1 });
    assert.equal(seenByHooks.length, 1);
  });
});
