import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PGStore } from '../src/index.js';
import { PRUNE_FROM_START, PRUNE_LOCK_NAMESPACE, pruneBatchStatement } from '../src/sql.js';
import { databaseUrl, eventually, uniqueName } from './support/database.js';

describe('pruning', () => {
  let pool: pg.Pool;
  let schemaName: string;
  const stores: InstanceType<typeof PGStore>[] = [];
  const newStore = (options: Record<string, unknown>) => {
    const store = new PGStore({
      pool,
      schemaName,
      createTableIfMissing: true,
      pruneSessionInterval: false,
      ...options,
    });
    stores.push(store);
    return store;
  };
  const fill = async (table: string, expired: number, live: number) => {
    await pool.query(
      `INSERT INTO "${schemaName}"."${table}" (sid, sess, expire)
       SELECT 'x' || i, '{"cookie":{}}'::json, now() - interval '1 minute' FROM generate_series(1, $1::int) i
       UNION ALL
       SELECT 'l' || i, '{"cookie":{}}'::json, now() + interval '1 hour' FROM generate_series(1, $2::int) i`,
      [expired, live],
    );
  };
  const count = async (table: string) =>
    (await pool.query(`SELECT count(*)::int AS n FROM "${schemaName}"."${table}"`)).rows[0].n as number;

  before(async () => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 8 });
    schemaName = uniqueName('cps_prune');
    await pool.query(`CREATE SCHEMA "${schemaName}"`);
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await pool.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await pool.end();
  });

  it('several instances pruning at once delete each row exactly once, without errors', async () => {
    const instances = Array.from({ length: 5 }, () => newStore({ tableName: 'shared', pruneBatchSize: 100 }));
    await instances[0]!.length();
    await fill('shared', 3000, 50);
    const counts = await Promise.all(instances.map((s) => s.pruneSessions()));
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      3000,
    );
    assert.ok(
      counts.some((n) => n === 0),
      `instances that lost the lock stood down: ${counts}`,
    );
    assert.equal(await count('shared'), 50);
  });

  it('works with the lock turned off, too', async () => {
    const instances = Array.from({ length: 3 }, () =>
      newStore({ tableName: 'unlocked', pruneBatchSize: 100, pruneLock: false }),
    );
    await instances[0]!.length();
    await fill('unlocked', 1000, 10);
    const counts = await Promise.all(instances.map((s) => s.pruneSessions()));
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      1000,
    );
    assert.equal(await count('unlocked'), 10);
  });

  it('prunes on a timer, logs failures and keeps going', async () => {
    const logged: unknown[][] = [];
    const store = newStore({
      tableName: 'timer',
      createTableIfMissing: false,
      pruneSessionInterval: 0.1,
      pruneSessionRandomizedInterval: false,
      errorLog: (...args: unknown[]) => logged.push(args),
    });
    store.get('anything', () => {}); // starts the timer; the table does not exist yet
    await eventually(async () => logged.length >= 2, 5000);
    assert.ok(logged.length >= 2, `failed prunes were logged and retried (${logged.length})`);
    assert.match(String(logged[0]![0]), /failed to prune/);
    await pool.query(`CREATE TABLE "${schemaName}"."timer" (LIKE "${schemaName}"."shared" INCLUDING ALL)`);
    await fill('timer', 20, 3);
    await eventually(async () => (await count('timer')) === 3, 5000);
    assert.equal(await count('timer'), 3);
  });

  it('a manual prune pushes the next automatic one a whole interval away', async () => {
    let delays = 0;
    const store = newStore({
      tableName: 'manual',
      pruneSessionInterval: 3600,
      pruneSessionRandomizedInterval: (ms: number) => {
        delays++;
        return ms;
      },
    });
    await store.length();
    assert.equal(delays, 1, 'first operation scheduled the timer');
    await store.pruneSessions();
    assert.equal(delays, 2, 'the manual prune rescheduled it');
  });

  it('a jitter beyond what a timer can wait never makes pruning run in a loop', async () => {
    let delays = 0;
    const logged: unknown[][] = [];
    const store = newStore({
      tableName: 'jitter',
      pruneSessionInterval: 1,
      pruneSessionRandomizedInterval: () => {
        delays++;
        return 2 ** 40;
      },
      errorLog: (...args: unknown[]) => logged.push(args),
    });
    await store.length();
    // Node fires a timer of more than 2^31-1 ms after 1 ms: each of these round trips gives it the chance.
    for (let i = 0; i < 30; i++) await store.length();
    assert.equal(delays, 1, 'the timer was set once, and has not fired');
    assert.equal(logged.length, 1);
    assert.match(
      String(logged[0]!.at(-1)),
      /pruneSessionRandomizedInterval returned 1099511627776, not a number of milliseconds from 0 to 2147483647: waiting 2147483647 ms instead/,
    );
  });

  it('stops between batches when the store closes', async () => {
    const store = newStore({ tableName: 'closing', pruneBatchSize: 10 });
    await store.length();
    await fill('closing', 2000, 0);
    const pruning = store.pruneSessions();
    await new Promise((r) => setTimeout(r, 5));
    await store.close();
    const deleted = await pruning;
    assert.ok(deleted < 2000, `stopped early after ${deleted}`);
    assert.equal(await count('closing'), 2000 - deleted);
  });

  it("the prune lock is the table's: same-named tables in other schemas do not block each other", async () => {
    const otherSchema = uniqueName('cps_prune_other');
    await pool.query(`CREATE SCHEMA "${otherSchema}"`);
    const inPath = (schema: string) =>
      new pg.Pool({ connectionString: databaseUrl(), max: 2, options: `-c search_path=${schema}` });
    const pools = [inPath(schemaName), inPath(otherSchema)];
    const holder = new pg.Client({ connectionString: databaseUrl(), options: `-c search_path=${schemaName}` });
    await holder.connect();
    try {
      // Both unqualified, through search_path: `"session"` is a different table for each.
      const here = newStore({ pool: pools[0], schemaName: undefined, tableName: 'locked' });
      const there = newStore({ pool: pools[1], schemaName: undefined, tableName: 'locked' });
      // The same table as `here`, spelled with its schema.
      const hereQualified = newStore({ tableName: 'locked' });
      await Promise.all([here.length(), there.length()]);
      const fillThere = () =>
        pool.query(
          `INSERT INTO "${otherSchema}"."locked" SELECT 'x' || i, '{}', now() - interval '1 minute' FROM generate_series(1, 5) i`,
        );
      await fill('locked', 5, 0);
      await fillThere();

      // A prune of `here` in progress: the store's own statement, in a transaction left open.
      await holder.query('BEGIN');
      const pruneBatch = pruneBatchStatement('"locked"');
      const [held] = (await holder.query(pruneBatch.text, [1, '"locked"', true, PRUNE_FROM_START])).rows;
      assert.equal(held.held, 'true');
      assert.equal(await there.pruneSessions(), 5, 'the other schema’s table is pruned');
      assert.equal(await here.pruneSessions(), 0, 'the same table stands down');
      assert.equal(await hereQualified.pruneSessions(), 0, 'the same table spelled otherwise stands down too');
      await holder.query('ROLLBACK');

      // An operator can hold the lock by hand: its key is the table's oid.
      await fillThere();
      const key = `'"${otherSchema}"."locked"'::regclass::oid::int`;
      await holder.query(`SELECT pg_advisory_lock(${PRUNE_LOCK_NAMESPACE}, ${key})`);
      assert.equal(await there.pruneSessions(), 0);
      assert.equal(await here.pruneSessions(), 5);
      await holder.query(`SELECT pg_advisory_unlock(${PRUNE_LOCK_NAMESPACE}, ${key})`);
      assert.equal(await there.pruneSessions(), 5);
    } finally {
      await holder.end();
      await Promise.all(stores.splice(0).map((s) => s.close()));
      await Promise.all(pools.map((p) => p.end()));
      await pool.query(`DROP SCHEMA "${otherSchema}" CASCADE`);
    }
  });
});
