import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { databaseUrl, eventually, uniqueName } from './support/database.js';
import { useSchemaStores } from './support/driver-stores.js';
import { pgbouncerMissing, startPgBouncer } from './support/pgbouncer.js';
import { skipUnlessInstalled } from './support/system-tools.js';

const session = (n: number, seconds = 600) => ({
  cookie: { originalMaxAge: seconds * 1000, expires: new Date(Date.now() + seconds * 1000).toISOString() },
  n,
});

/** Longer than pg-pipeline.ts's HELD_UP_MS: by then a connection with no answer counts as held up. */
const HELD_UP_PAST_MS = 150;

describe("the store's own connections (conString, conObject, DATABASE_URL)", () => {
  const { admin, newStore, table } = useSchemaStores('cps_connections', { errorLog: () => {} });
  /** The backends of one store, told apart by an application_name of its own. */
  const backends = async (applicationName: string) =>
    (
      await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
        applicationName,
      ])
    )[0]!.n as number;
  const ownStore = (name: string, applicationName: string, options: Record<string, unknown> = {}) =>
    newStore({
      conObject: { connectionString: databaseUrl(), application_name: applicationName },
      tableName: name,
      hashSessionIds: false,
      ...options,
    });

  it('pipelines by default: concurrent gets share a connection instead of one each', async () => {
    const app = uniqueName('cps_default');
    const store = ownStore(uniqueName('pipelined'), app);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`s${i}`, session(i) as any)));
    const read = await Promise.all(Array.from({ length: 20 }, (_, i) => store.get(`s${i}`)));
    assert.deepEqual(
      read.map((s: any) => s.n),
      Array.from({ length: 20 }, (_, i) => i),
    );
    // One pipelined connection (a second only if one went 50 ms without an answer), and the
    // one-connection pool beside it for the table check; a pool would have had ten.
    const count = await backends(app);
    assert.ok(count <= 3, `a few connections, not one per statement (${count})`);
  });

  it('uses a pool with pipeline: false, and without a time limit', async () => {
    for (const options of [{ pipeline: false }, { operationTimeout: false }]) {
      const app = uniqueName('cps_pool');
      const store = ownStore(uniqueName('pooled'), app, options);
      await store.length();
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`s${i}`, session(i) as any)));
      const count = await backends(app);
      assert.ok(count >= 5, `a connection per statement in flight (${count}) with ${JSON.stringify(options)}`);
    }
  });

  it("a statement held up by a lock does not hold up other sessions' statements", async () => {
    const app = uniqueName('cps_held');
    const name = uniqueName('held');
    const store = ownStore(name, app);
    await store.set('slow', session(0) as any);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`s${i}`, session(i) as any)));
    // Another transaction holds the row of 'slow': its write waits on its pipelined connection.
    const locker = new pg.Client({ connectionString: databaseUrl() });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM ${table(name)} WHERE sid = 'slow' FOR UPDATE`);
      let slowDone = false;
      const slow = store.set('slow', session(-1) as any).finally(() => {
        slowDone = true;
      });
      const waiting = async () =>
        (
          await admin.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            [app],
          )
        )[0]!.n === 1;
      assert.ok(await eventually(waiting, 5000), 'the write waits for the row lock');
      await sleep(HELD_UP_PAST_MS);
      const reads = await Promise.all(Array.from({ length: 20 }, (_, i) => store.get(`s${i}`)));
      assert.deepEqual(
        reads.map((s: any) => s.n),
        Array.from({ length: 20 }, (_, i) => i),
      );
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`s${i}`, session(i + 100) as any)));
      assert.equal(slowDone, false, 'the other sessions were served while the slow write still waited');
      assert.ok(await waiting(), 'and it still waits');
      await locker.query('ROLLBACK');
      await slow;
    } finally {
      await locker.end();
    }
    assert.equal(((await store.get('slow')) as any).n, -1, 'the held-up write landed once the lock was gone');
    assert.equal(((await store.get('s7')) as any).n, 107);
  });
  it('a held-up statement out of time ends its own connection only: the others serve on', async () => {
    const app = uniqueName('cps_held_timeout');
    const name = uniqueName('held_timeout');
    const store = ownStore(name, app, { operationTimeout: 1000 });
    await store.set('slow', session(0) as any);
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.set(`s${i}`, session(i) as any)));
    const locker = new pg.Client({ connectionString: databaseUrl() });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM ${table(name)} WHERE sid = 'slow' FOR UPDATE`);
      const slow = store.set('slow', session(-1) as any);
      const failed = slow.then(
        () => undefined,
        (error: unknown) => error,
      );
      await sleep(HELD_UP_PAST_MS);
      // Reads of other sessions while it waits, and after its connection was ended.
      const during = Promise.all(Array.from({ length: 10 }, (_, i) => store.get(`s${i}`)));
      const error = (await failed) as any;
      assert.equal(error?.name, 'TimeoutError', String(error));
      assert.deepEqual(
        (await during).map((s: any) => s.n),
        Array.from({ length: 10 }, (_, i) => i),
      );
      const after = await Promise.all(Array.from({ length: 10 }, (_, i) => store.get(`s${i}`)));
      assert.equal(after.length, 10);
      // A cancel reaches the server a moment after the TimeoutError (docs/reliability.md: a write
      // that timed out may or may not happen): the lock is let go once the server has ended the write.
      const stillWaiting = async () =>
        (
          await admin.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            [app],
          )
        )[0]!.n > 0;
      assert.ok(await eventually(async () => !(await stillWaiting()), 5000), 'the late write was ended on the server');
    } finally {
      await locker.query('ROLLBACK').catch(() => {});
      await locker.end();
    }
    await sleep(200);
    assert.equal(((await store.get('slow')) as any).n, 0, 'the write out of time did not land once the lock was gone');
  });
});

describe("the store's own connections through PgBouncer (transaction pooling)", () => {
  const { admin, newStore } = useSchemaStores('cps_connections_bouncer', { errorLog: () => {} });
  const missing = skipUnlessInstalled(pgbouncerMissing());

  it('use a pool by default, since a statement out of time could not end its backend', { skip: missing }, async () => {
    const bouncer = await startPgBouncer(databaseUrl(), { poolSize: 20 });
    try {
      const app = uniqueName('cps_bouncer');
      const url = new URL(bouncer.url);
      url.searchParams.set('application_name', app);
      const store = newStore({ conString: url.href, tableName: uniqueName('bounced'), preparedStatements: false });
      await store.length();
      const sessions = Array.from({ length: 20 }, (_, i) => i);
      await Promise.all(sessions.map((i) => store.set(`s${i}`, session(i) as any)));
      const read = await Promise.all(sessions.map((i) => store.get(`s${i}`)));
      assert.deepEqual(
        read.map((s: any) => s.n),
        sessions,
      );
      await Promise.all(sessions.map((i) => store.set(`s${i}`, session(i) as any)));
      // PgBouncer passes application_name on: a pool has a server connection per statement in flight.
      const servers = (
        await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [app])
      )[0]!.n;
      assert.ok(servers > 2, `several server connections (${servers}), not one pipelined`);
      await store.close();
    } finally {
      await bouncer.stop();
    }
  });
});

describe("a user's pg.Pool", () => {
  const { newStore } = useSchemaStores('cps_user_pool', { errorLog: () => {} });

  it('sends named (prepared) statements, prepared once per connection', async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    try {
      const store = newStore({ pool, tableName: uniqueName('named') });
      await store.set('a', session(1) as any);
      assert.equal(((await store.get('a')) as any).n, 1);
      assert.equal(((await store.get('a')) as any).n, 1);
      // The pool's only connection: the store's statements are prepared on it, under their names.
      const prepared = (await pool.query('SELECT name FROM pg_prepared_statements')).rows.map((row) => row.name);
      assert.ok(
        prepared.some((name) => name.startsWith('cps_')),
        `named statements on the connection: ${prepared.join(', ')}`,
      );
    } finally {
      await pool.end();
    }
  });
});
