import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { postgresDriver } from '../src/adapters/unstorage.js';
import { OPERATIONS } from '../src/diagnostics.js';
import connectPgSimple from '../src/index.js';
import { callOf, channelRecorder } from './support/channels.js';
import { databaseUrl, databaseUrlIn, eventually, serverAdmin, uniqueName } from './support/database.js';
import { useDriverStores } from './support/driver-stores.js';
import { inSeconds, storedId } from './support/sessions.js';

/**
 * The TracingChannels `connect-pg-simple:<operation>` (docs/observability.md), on real
 * PostgreSQL: every operation publishes start, end, asyncStart and asyncEnd (error before them
 * when it fails) with the documented context, and no context says a session id, a session's
 * data or a connection secret.
 */

const { PGStore } = connectPgSimple;

const SETTLED = ['start', 'end', 'asyncStart', 'asyncEnd'];

for (const driverName of ['pg', 'postgres', 'pglite'] as const) {
  describe(`tracing channels over ${driverName}`, () => {
    const { newStore, q, table, schemaName } = useDriverStores(driverName, `cps_trace_${driverName}`);
    const recorder = channelRecorder();
    before(recorder.start);
    after(recorder.stop);
    const { published } = recorder;

    it('every operation publishes start, end, asyncStart and asyncEnd, with the documented context', async () => {
      const store = newStore({
        userId: (session: Record<string, unknown>) => session.owner as string | undefined,
        readCache: false,
      });
      await store.length(); // the table check, before the figures below
      const ops = new Map<string, ReturnType<typeof callOf>>();
      const traced = async <T>(operation: string, call: () => Promise<T>): Promise<T> => {
        const from = published.length;
        const result = await call();
        ops.set(operation, callOf(published, operation, from));
        return result;
      };
      await traced('set', () => store.set('sid-a', inSeconds(3600, { owner: 'u1', n: 1 }) as any));
      await store.set('sid-b', inSeconds(3600, { owner: 'u1' }) as any);
      await store.set('sid-c', inSeconds(3600, { owner: 'u1' }) as any);
      const loaded = (await traced('get', () => store.get('sid-a')))!;
      await traced('touch', () => store.touch('sid-a', loaded));
      await traced('length', () => store.length());
      assert.equal((await traced('all', () => store.all())).length, 3);
      const [mine] = await traced('userSessions', () => store.userSessions('u1'));
      assert.equal(
        await traced('destroySession', () => store.destroySession(store.sessionHandle('sid-b'), { userId: 'u1' })),
        true,
      );
      assert.equal(await traced('destroyUserSessions', () => store.destroyUserSessions('u1', { except: 'sid-a' })), 1);
      await traced('destroy', () => store.destroy('sid-a'));
      await store.set('sid-d', inSeconds(3600, {}) as any);
      await traced('destroyStoredId', () => store.destroyStoredId(storedId('sid-d')));
      await store.set('sid-e', inSeconds(3600, {}) as any);
      await store.set('sid-f', inSeconds(3600, {}) as any);
      await q(`UPDATE ${table()} SET expire = now() - interval '1 minute'`);
      assert.equal(await traced('prune', () => store.pruneSessions()), 2);
      await traced('clear', () => store.clear());
      assert.ok(mine !== undefined);

      for (const operation of OPERATIONS) {
        const op = ops.get(operation);
        assert.ok(op !== undefined, `${operation} was traced`);
        assert.deepEqual(op.kinds, SETTLED, `${operation}: the events of a call that succeeds`);
        assert.equal(op.ended.operation, operation);
        assert.equal(op.ended.table, `${schemaName}.session`);
        assert.equal(op.ended.error, undefined);
        assert.equal(op.ended.sqlState, undefined);
      }
      const statements = Object.fromEntries([...ops].map(([name, op]) => [name, op.ended.statements]));
      // Each sends one statement; a touch within the lazy-touch window sends none; a prune its batch and the change log's trim.
      assert.deepEqual(statements, {
        set: 1,
        get: 1,
        touch: 0,
        length: 1,
        all: 1,
        userSessions: 1,
        destroySession: 1,
        destroyUserSessions: 1,
        destroy: 1,
        destroyStoredId: 1,
        prune: 2,
        clear: 1,
      });
      assert.equal(ops.get('prune')!.ended.rowsPruned, 2);
      assert.equal(ops.get('prune')!.ended.automatic, false);
      assert.equal(ops.get('destroySession')!.ended.revoked, 1);
      assert.equal(ops.get('destroyUserSessions')!.ended.revoked, 1);
      // Told only where they apply: no readCache, no readPool here.
      assert.equal(ops.get('get')!.ended.cacheHit, undefined);
      assert.equal(ops.get('get')!.ended.server, undefined);
    });

    it('a get the readCache answers says so, and sends no statement', async () => {
      const store = newStore({ readCache: 60_000 });
      await store.set('cached', inSeconds(3600, { n: 1 }) as any);
      let from = published.length;
      await store.get('cached');
      const miss = callOf(published, 'get', from).ended;
      assert.equal(miss.cacheHit, false);
      from = published.length;
      await store.get('cached');
      const hit = callOf(published, 'get', from).ended;
      assert.equal(hit.cacheHit, true);
      assert.equal(hit.statements, 0);
    });

    it('a get that readCache: true answers says so too', async () => {
      const store = newStore({ readCache: true, tableName: 'listened' });
      await store.set('cached', inSeconds(3600, { n: 1 }) as any);
      const answeredFromMemory = async () => {
        const from = published.length;
        await store.get('cached');
        const ended = callOf(published, 'get', from).ended;
        return ended.cacheHit === true && ended.statements === 0;
      };
      assert.ok(await eventually(answeredFromMemory, 10_000), 'once its listener confirms, a get is a hit');
    });

    it('a failed operation publishes error, with its SQLSTATE, before asyncStart and asyncEnd', async () => {
      const store = newStore({ tableName: 'doomed' });
      await store.length();
      await q(`DROP TABLE ${table('doomed')}`);
      const from = published.length;
      await assert.rejects(store.get('some-sid'), { code: '42P01' });
      const failed = callOf(published, 'get', from);
      assert.deepEqual(failed.kinds, ['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
      assert.equal(failed.ended.sqlState, '42P01');
      assert.equal(failed.ended.errorCode, '42P01');
      assert.ok(failed.context.error instanceof Error);
    });

    it('an argument refused at once publishes error too, without a SQLSTATE', async () => {
      const store = newStore();
      await store.length();
      const from = published.length;
      await assert.rejects(store.get(''), TypeError);
      const refused = callOf(published, 'get', from);
      assert.ok(refused.kinds.includes('error'));
      assert.equal(refused.ended.sqlState, undefined);
    });

    it("the prune timer's prunes are traced, as automatic", async () => {
      const store = newStore({ pruneSessionInterval: 0.05, pruneSessionRandomizedInterval: false });
      await store.length(); // starts the timer
      const seen = await eventually(
        async () => published.some((p) => p.context.operation === 'prune' && p.context.automatic === true),
        10_000,
      );
      assert.ok(seen, 'an automatic prune was traced');
    });
  });
}

describe('tracing with readPool: which server answered', () => {
  const admin = serverAdmin();
  const primarySchema = uniqueName('cps_trace_primary');
  const replicaSchema = uniqueName('cps_trace_replica');
  let primary: pg.Pool;
  let replica: pg.Pool;
  const recorder = channelRecorder();
  const row = `($1, $2::json, now() + interval '1 hour')`;

  before(async () => {
    recorder.start();
    for (const schema of [primarySchema, replicaSchema]) {
      await admin.query(`CREATE SCHEMA "${schema}"`);
      await admin.query(
        `CREATE TABLE "${schema}".session (sid text COLLATE "C" PRIMARY KEY, sess json NOT NULL, expire timestamptz NOT NULL)`,
      );
    }
    primary = new pg.Pool({ connectionString: databaseUrlIn(primarySchema), max: 2 });
    replica = new pg.Pool({ connectionString: databaseUrlIn(replicaSchema), max: 2 });
    // Written by another instance: on the "replica" too. Another, on the primary only.
    for (const pool of [primary, replica]) {
      await pool.query(`INSERT INTO session VALUES ${row}`, ['everywhere', JSON.stringify(inSeconds(3600, {}))]);
    }
    await primary.query(`INSERT INTO session VALUES ${row}`, ['primary-only', JSON.stringify(inSeconds(3600, {}))]);
  });
  after(async () => {
    recorder.stop();
    await primary.end();
    await replica.end();
    for (const schema of [primarySchema, replicaSchema]) await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    await admin.close();
  });

  it('says replica when the replica answered, primary when the primary did', async () => {
    const store = new PGStore({ pool: primary, readPool: replica, pruneSessionInterval: false });
    try {
      await store.length();
      let from = recorder.published.length;
      assert.ok(await store.get('everywhere'));
      assert.equal(callOf(recorder.published, 'get', from).ended.server, 'replica');
      from = recorder.published.length;
      assert.ok(await store.get('primary-only'));
      assert.equal(callOf(recorder.published, 'get', from).ended.server, 'primary');
    } finally {
      await store.close();
    }
  });
});

describe('tracing a pg.Pool: the wait for a free connection', () => {
  const schemaName = uniqueName('cps_trace_wait');
  const admin = serverAdmin();
  let pool: pg.Pool;
  const recorder = channelRecorder();
  before(async () => {
    recorder.start();
    await admin.query(`CREATE SCHEMA "${schemaName}"`);
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
  });
  after(async () => {
    recorder.stop();
    await pool.end();
    await admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await admin.close();
  });

  it('poolWaitMs covers the time the only connection was taken', async () => {
    const store = new PGStore({ pool, schemaName, createTableIfMissing: true, pruneSessionInterval: false });
    try {
      await store.length();
      let from = recorder.published.length;
      await store.get('free');
      const free = callOf(recorder.published, 'get', from).ended;
      assert.equal(typeof free.poolWaitMs, 'number');

      const taken = await pool.connect();
      from = recorder.published.length;
      const reading = store.get('queued');
      assert.ok(await eventually(async () => pool.waitingCount === 1, 5000), 'the get waits for the connection');
      const heldFrom = performance.now();
      const heldMs = performance.now() - heldFrom;
      taken.release();
      assert.equal(await reading, null);
      const queued = callOf(recorder.published, 'get', from).ended;
      assert.ok(queued.poolWaitMs >= heldMs, `waited ${queued.poolWaitMs} ms, the connection was held ${heldMs} ms`);
    } finally {
      await store.close();
    }
  });
});

describe('tracing a framework adapter', () => {
  const suite = useDriverStores('pg', 'cps_trace_adapter');
  const recorder = channelRecorder();
  before(recorder.start);
  after(recorder.stop);

  it("the unstorage driver's calls publish on the same channels", async () => {
    const driver = postgresDriver({
      ...suite.harness.storeOptions,
      schemaName: suite.schemaName,
      tableName: 'items',
      createTableIfMissing: true,
      pruneSessionInterval: false,
    });
    try {
      const from = recorder.published.length;
      await driver.setItem!('k', 'v', { ttl: 60 });
      assert.equal(await driver.getItem('k'), 'v');
      const set = callOf(recorder.published, 'set', from);
      const get = callOf(recorder.published, 'get', from);
      assert.deepEqual(set.kinds, ['start', 'end', 'asyncStart', 'asyncEnd']);
      assert.deepEqual(get.kinds, ['start', 'end', 'asyncStart', 'asyncEnd']);
      assert.equal(get.ended.table, `${suite.schemaName}.items`);
    } finally {
      await driver.dispose!();
    }
  });
});

describe('without a subscriber', () => {
  const { newStore } = useDriverStores('pglite', 'cps_untraced');

  it('an operation publishes nothing and works as before', async () => {
    const store = newStore();
    const channel = dc.channel('connect-pg-simple:get');
    assert.equal(channel.hasSubscribers, false);
    await store.set('quiet', inSeconds(3600, { n: 1 }) as any);
    assert.equal(((await store.get('quiet')) as { n?: number } | null)?.n, 1);
  });
});
