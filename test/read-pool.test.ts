import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PGStore } from '../src/index.js';
import { databaseUrlIn, serverAdmin, uniqueName } from './support/database.js';
import { inSeconds } from './support/sessions.js';

/**
 * `readPool` on one server (the real two-server tests are in scripts/test-cluster.mjs): the
 * "replica" here is a pool whose search_path names another schema, holding a stale copy of the
 * table. A server that is not in recovery never proves it has replayed anything, so it answers
 * only for sessions this process has not written; everything else, and every miss, goes to the
 * primary.
 */
describe('readPool', () => {
  const admin = serverAdmin();
  const primarySchema = uniqueName('cps_primary');
  const staleSchema = uniqueName('cps_stale');
  let primary: pg.Pool;
  let stale: pg.Pool;
  const replicaReads: string[] = [];
  /** The stale "replica", counting what it is asked. */
  const readPool = {
    query: (text: string, values: unknown[]) => {
      replicaReads.push(String(values[0]));
      return stale.query(text, values);
    },
  };
  const stores: PGStore[] = [];
  const open = (options: Record<string, unknown> = {}) => {
    const store = new PGStore({ pool: primary, readPool, pruneSessionInterval: false, ...options });
    stores.push(store);
    return store;
  };

  const row = `($1, $2::json, now() + interval '1 hour')`;

  before(async () => {
    for (const schema of [primarySchema, staleSchema]) {
      await admin.query(`CREATE SCHEMA "${schema}"`);
      await admin.query(
        `CREATE TABLE "${schema}".session (sid text COLLATE "C" PRIMARY KEY, sess json NOT NULL, expire timestamptz NOT NULL)`,
      );
    }
    primary = new pg.Pool({ connectionString: databaseUrlIn(primarySchema), max: 4 });
    stale = new pg.Pool({ connectionString: databaseUrlIn(staleSchema), max: 4 });
    // What another instance wrote, already on the replica too.
    for (const pool of [primary, stale]) {
      await pool.query(`INSERT INTO session VALUES ${row}`, ['elsewhere', JSON.stringify(inSeconds(3600, { v: 1 }))]);
    }
    // Sessions the replica holds in an older version.
    await stale.query(`INSERT INTO session VALUES ${row}`, ['mine', JSON.stringify(inSeconds(3600, { v: 'old' }))]);
    await stale.query(`INSERT INTO session VALUES ${row}`, ['gone', JSON.stringify(inSeconds(3600, { v: 'old' }))]);
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await primary.end();
    await stale.end();
    await admin.query(`DROP SCHEMA "${primarySchema}" CASCADE`);
    await admin.query(`DROP SCHEMA "${staleSchema}" CASCADE`);
    await admin.close();
  });

  it('is checked at construction', () => {
    assert.throws(() => new PGStore({ pool: primary, readPool: 'postgres://replica/db' as any }), {
      name: 'TypeError',
      message: /option "readPool" must be a pg\.Pool .*got a string \(a connection string\? give it as "conString"\)/,
    });
    assert.throws(() => new PGStore({ pool: primary, readPool: primary }), {
      name: 'TypeError',
      message: /option "readPool" is the same object as "pool"/,
    });
  });

  it('answers from the replica for a session this process did not write', async () => {
    const store = open();
    replicaReads.length = 0;
    assert.equal(((await store.get('elsewhere')) as any).v, 1);
    assert.deepEqual(replicaReads, ['elsewhere']);
  });

  it('never serves an older version of a session this process wrote, nor one it destroyed', async () => {
    const store = open();
    await store.set('mine', inSeconds(3600, { v: 'new' }) as any);
    await store.set('gone', inSeconds(3600, { v: 'new' }) as any);
    await store.destroy('gone');
    // Long enough for the primary's WAL position to be sampled: the requirement is then known.
    for (let i = 0; i < 3; i++) {
      assert.equal(((await store.get('mine')) as any).v, 'new');
      assert.equal(await store.get('gone'), null);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
  });

  it('falls back to the primary on a miss: a login just written elsewhere is found', async () => {
    const other = open();
    const store = open();
    await other.set('login', inSeconds(3600, { user: 7 }) as any);
    replicaReads.length = 0;
    assert.equal(((await store.get('login')) as any).user, 7);
    assert.deepEqual(replicaReads, ['login'], 'asked the replica first, which did not have it');
  });

  it('falls back to the primary when the replica fails, and says so once', async () => {
    const logged: unknown[][] = [];
    const broken = { query: () => Promise.reject(new Error('replica down')) };
    const store = new PGStore({
      pool: primary,
      readPool: broken,
      pruneSessionInterval: false,
      errorLog: (...args: unknown[]) => logged.push(args),
    });
    stores.push(store);
    assert.equal(((await store.get('elsewhere')) as any).v, 1);
    assert.equal(((await store.get('elsewhere')) as any).v, 1);
    const replicaLines = logged.filter((args) => /readPool failed; reading the primary/.test(String(args[0])));
    assert.equal(replicaLines.length, 1, 'said once');
  });

  it('leaves length(), all() and clear() to the primary', async () => {
    const store = open();
    replicaReads.length = 0;
    const length = await store.length();
    assert.equal((await store.all()).length, length);
    assert.deepEqual(replicaReads, []);
  });

  it('never serves a session destroyed by its stored id, nor any after clear()', async () => {
    for (const pool of [primary, stale]) {
      await pool.query(`INSERT INTO session VALUES ${row}`, ['listed', JSON.stringify(inSeconds(3600, { v: 1 }))]);
    }
    const store = open();
    assert.equal(((await store.get('listed')) as any).v, 1, 'the replica answers at first');
    // The table predates hashed ids: the stored id is the id itself.
    await store.destroyStoredId('listed');
    assert.equal(await store.get('listed'), null, 'the replica holds it still, and must not answer');
    assert.equal(((await store.get('elsewhere')) as any).v, 1);
    await store.clear();
    assert.equal(await store.get('elsewhere'), null, 'after clear(), no replica answers');
  });
});
