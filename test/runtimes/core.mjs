// The core of the store's behaviour, in plain JavaScript for any runtime (Node.js, Bun, Deno): run by
// scripts/test-runtimes.mjs as `bun test/runtimes/core.mjs pg|bun-sql` and `deno run -A test/runtimes/core.mjs pg`.
// Each check talks to real PostgreSQL (DATABASE_URL) in a schema of its own; any failure exits 1.
import assert from 'node:assert/strict';
import { PGStore } from '../../esm/index.mjs';

const [driver = 'pg'] = process.argv.slice(2);
const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is not set');
const runtime = globalThis.Bun
  ? `Bun ${Bun.version}`
  : globalThis.Deno
    ? `Deno ${Deno.version.deno}`
    : `Node.js ${process.version}`;

/** The database for the store, and a way to run the check's own SQL and to end it. */
async function open() {
  if (driver === 'bun-sql') {
    const sql = new Bun.SQL(url, { max: 4 });
    return { options: { postgres: sql }, run: (text) => sql.unsafe(text), end: () => sql.close() };
  }
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => {});
  return { options: { pool }, run: async (text) => (await pool.query(text)).rows, end: () => pool.end() };
}

const db = await open();
const schemaName = `cps_runtime_${driver.replace('-', '_')}_${Math.random().toString(36).slice(2, 10)}`;
await db.run(`CREATE SCHEMA "${schemaName}"`);
const stores = [];
/** Each check's stores share a table of their own. */
let tableName = 'session';
const newStore = (options = {}) => {
  const store = new PGStore({
    ...db.options,
    schemaName,
    tableName,
    createTableIfMissing: true,
    pruneSessionInterval: false,
    ...options,
  });
  stores.push(store);
  return store;
};
const cookie = (seconds) => ({ maxAge: seconds * 1000, expires: new Date(Date.now() + seconds * 1000).toISOString() });

const checks = {
  'stores and reads back a session, and misses one that does not exist': async () => {
    const store = newStore();
    await store.set('a', { cookie: cookie(60), user: 'ada', nested: { list: [1, 'two', null] } });
    const read = await store.get('a');
    assert.equal(read.user, 'ada');
    assert.deepEqual(read.nested, { list: [1, 'two', null] });
    assert.equal(await store.get('missing'), null);
  },
  'takes its lifetime from the cookie, and an expired session is gone': async () => {
    const store = newStore();
    await store.set('short', { cookie: cookie(60) });
    const [{ left }] = await db.run(
      `SELECT extract(epoch FROM expire - now())::float8 AS left FROM "${schemaName}"."${tableName}"`,
    );
    assert.ok(Math.abs(Number(left) - 60) < 5, `60 s, got ${left}`);
    await store.set('old', { cookie: cookie(60) });
    await db.run(`UPDATE "${schemaName}"."${tableName}" SET expire = now() - interval '1 second'`);
    assert.equal(await store.get('old'), null);
    assert.equal(await store.pruneSessions(), 2);
  },
  'touch, destroy, length, all and clear': async () => {
    const store = newStore({ touchAfter: 0 });
    await store.set('t', { cookie: cookie(60), n: 1 });
    await store.touch('t', { cookie: cookie(600), n: 1 });
    assert.equal(await store.length(), 1);
    assert.equal((await store.all()).length, 1);
    await store.destroy('t');
    assert.equal(await store.get('t'), null);
    await store.destroy('t'); // a missing one is no error
    await store.set('u', { cookie: cookie(60) });
    await store.clear();
    assert.equal(await store.length(), 0);
  },
  'a logout is final: a write of a request that loaded the session does not bring it back': async () => {
    const store = newStore();
    await store.set('l', { cookie: cookie(60), user: 'ada' });
    const loaded = await store.get('l');
    await newStore().destroy('l');
    loaded.views = 2;
    await store.set('l', loaded);
    assert.equal(await store.get('l'), null);
  },
  'concurrent requests keep each other’s keys': async () => {
    const store = newStore();
    await store.set('c', { cookie: cookie(60), a: 0, b: 0 });
    const [first, second] = [await store.get('c'), await store.get('c')];
    first.a = 1;
    second.b = 2;
    await Promise.all([store.set('c', first), store.set('c', second)]);
    const read = await store.get('c');
    assert.deepEqual([read.a, read.b], [1, 2]);
  },
  'sessions per user: listed and revoked': async () => {
    const store = newStore();
    await store.set('laptop', { cookie: cookie(60), userId: '42' });
    await store.set('phone', { cookie: cookie(60), userId: '42' });
    assert.equal((await store.userSessions('42')).length, 2);
    assert.equal(await store.destroyUserSessions('42', { except: 'laptop' }), 1);
    assert.deepEqual(
      (await store.userSessions('42')).map((s) => s.handle),
      [store.sessionHandle('laptop')],
    );
  },
};

let failed = 0;
try {
  for (const [index, [name, check]] of Object.entries(checks).entries()) {
    tableName = `check_${index}`;
    try {
      await check();
      console.log(`ok ${runtime} ${driver}: ${name}`);
    } catch (error) {
      failed++;
      console.log(`not ok ${runtime} ${driver}: ${name}\n${error?.stack ?? error}`);
    }
  }
} finally {
  await Promise.all(stores.map((s) => s.close()));
  await db.run(`DROP SCHEMA "${schemaName}" CASCADE`);
  await db.end();
}
console.log(`${runtime} ${driver}: ${Object.keys(checks).length - failed} of ${Object.keys(checks).length} passed`);
process.exit(failed === 0 ? 0 : 1);
