import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pgPromise from 'pg-promise';
import { PGStore } from '../src/index.js';
import { databaseUrl, eventually, serverAdmin, uniqueName } from './support/database.js';
import { pastTheCacheBound, storedId } from './support/sessions.js';

const session = (n: number) => ({
  cookie: { originalMaxAge: 600_000, expires: new Date(Date.now() + 600_000).toISOString() },
  n,
});

/**
 * Without `schemaName`, the store's table is the one its connections' search_path finds, and the
 * application may set that path itself, per connection: a pool's `connect` listener, pg-promise's
 * `schema` option. The store's own polling connection does not run those, and a table of the same
 * name in `public` (the default table name is `session`) must never be polled in its place.
 */
describe("a table found by the application's search_path (no schemaName)", () => {
  const admin = serverAdmin();
  const tenant = uniqueName('cps_tenant');
  const tableName = uniqueName('session');
  const stores: PGStore[] = [];
  const ends: (() => Promise<unknown>)[] = [];
  const newStore = (options: Record<string, unknown>) => {
    const store = new PGStore({ tableName, createTableIfMissing: true, pruneSessionInterval: false, ...options });
    stores.push(store);
    return store;
  };

  before(async () => {
    await admin.query(`CREATE SCHEMA "${tenant}"`);
    // The decoy: a session table of the same name in public, with its change log, made by a store of its own.
    const decoy = newStore({ conString: databaseUrl() });
    await decoy.set('decoy', session(0) as any);
  });
  after(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await Promise.all(ends.map((end) => end()));
    await admin.query(`DROP SCHEMA "${tenant}" CASCADE`);
    await admin.query(`DROP TABLE IF EXISTS public."${tableName}", public."${tableName}_changes" CASCADE`);
    await admin.close();
  });

  /**
   * The session `sid` is served from memory (no connection taken from `pool` for it), then deleted
   * in the tenant's table by plain SQL: it must be gone.
   */
  async function revokedElsewhereIsGone(store: PGStore, sid: string, pool: pg.Pool) {
    let taken = 0;
    pool.on('acquire', () => taken++);
    await store.set(sid, session(1) as any);
    const fromMemory = async () => {
      const before = taken;
      return ((await store.get(sid)) as any)?.n === 1 && taken === before;
    };
    assert.ok(await eventually(fromMemory, 10_000), 'the session is answered from memory');
    const [row] = await admin.query(`SELECT count(*)::int AS n FROM "${tenant}"."${tableName}" WHERE sid = $1`, [
      storedId(sid),
    ]);
    assert.equal(row!.n, 1, "the session is in the tenant's table, not in public's");
    await admin.query(`DELETE FROM "${tenant}"."${tableName}" WHERE sid = $1`, [storedId(sid)]);
    await pastTheCacheBound();
    assert.equal(await store.get(sid), null, 'a session deleted elsewhere is gone');
  }

  it("a pg.Pool whose connect listener sets the search_path: the cache polls the tenant's change log", async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    ends.push(() => pool.end());
    pool.on('connect', (client) => void client.query(`SET search_path TO "${tenant}"`).catch(() => {}));
    const logged: unknown[][] = [];
    const store = newStore({ pool, readCache: true, errorLog: (...args: unknown[]) => logged.push(args) });
    await revokedElsewhereIsGone(store, 'pool-session', pool);
    assert.deepEqual(logged, [], 'nothing said: the change log was found');
  });

  it("pg-promise's schema option: the store's table is made, read and polled in that schema", async () => {
    const pgp = pgPromise({ noWarnings: true, schema: tenant });
    const db = pgp({ connectionString: databaseUrl(), max: 1 });
    ends.push(async () => pgp.end());
    const logged: unknown[][] = [];
    const store = newStore({ pgPromise: db, readCache: true, errorLog: (...args: unknown[]) => logged.push(args) });
    await revokedElsewhereIsGone(store, 'pg-promise-session', db.$pool as unknown as pg.Pool);
    assert.deepEqual(logged, [], 'nothing said: the change log was found');
  });
});
