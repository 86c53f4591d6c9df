import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import pgPromise from 'pg-promise';
import postgres from 'postgres';
import { READ_CACHE_BOUND_MS } from '../src/cache-trust.js';
import { callOf, channelRecorder } from './support/channels.js';
import { databaseUrl, eventually, uniqueName } from './support/database.js';
import { type Store, useDriverStores } from './support/driver-stores.js';
import { pgbouncerMissing } from './support/pgbouncer.js';
import { inSeconds } from './support/sessions.js';

/**
 * `readCache: true` against real PostgreSQL, on every driver that can poll: a store answers a
 * second read from memory, and sees what another store (on a pool of its own), or plain SQL, did
 * to a session within READ_CACHE_BOUND_MS; whenever it cannot be sure, it reads the table.
 */

/** How long a test waits for what should take milliseconds, on a busy machine. */
const PATIENCE_MS = 10_000;

/** A second driver object, apart from the harness's, that counts the store's reads of a session. */
interface CountedDriver {
  readonly options: Record<string, unknown>;
  readonly application: string;
  reads(): number;
  close(): Promise<void>;
}

const pgp = pgPromise({ noWarnings: true });
const isRead = (text: unknown) => typeof text === 'string' && text.includes(' AS remaining');

/** A driver whose statements that read a session are counted. */
function countedDriver(driverName: string, harnessOptions: Record<string, unknown>): CountedDriver {
  const application = uniqueName('cps_listen');
  let reads = 0;
  switch (driverName) {
    case 'pg': {
      const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2, application_name: application });
      pool.on('error', () => {});
      // The store runs each statement on a client it leases from the pool (drivers/pg.ts).
      pool.on('connect', (client) => {
        const query = client.query.bind(client) as (...args: unknown[]) => unknown;
        (client as { query: unknown }).query = (config: { text?: string }, ...rest: unknown[]) => {
          if (isRead(config?.text ?? config)) reads++;
          return query(config, ...rest);
        };
      });
      return { options: { pool }, application, reads: () => reads, close: () => pool.end() };
    }
    case 'pg-promise': {
      const db = pgp({ connectionString: databaseUrl(), max: 2, application_name: application });
      // The store's statements go to the pg client of a pg-promise connection (drivers/pg-promise.ts).
      type Client = { query: (config: { text?: string }, ...rest: unknown[]) => unknown; counted?: true };
      const connect = db.connect.bind(db) as () => Promise<{ client: Client }>;
      (db as { connect: unknown }).connect = async () => {
        const connection = await connect();
        const { client } = connection;
        if (client.counted === undefined) {
          const query = client.query.bind(client);
          client.query = (config, ...rest) => {
            if (isRead(config?.text ?? config)) reads++;
            return query(config, ...rest);
          };
          client.counted = true;
        }
        return connection;
      };
      return { options: { pgPromise: db }, application, reads: () => reads, close: () => db.$pool.end() };
    }
    case 'postgres': {
      const sql = postgres(databaseUrl(), {
        max: 2,
        onnotice: () => {},
        connection: { application_name: application },
      });
      const unsafe = sql.unsafe.bind(sql) as (...args: unknown[]) => unknown;
      (sql as { unsafe: unknown }).unsafe = (text: string, ...rest: unknown[]) => {
        if (isRead(text)) reads++;
        return unsafe(text, ...rest);
      };
      return { options: { postgres: sql }, application, reads: () => reads, close: () => sql.end() };
    }
    case 'pglite': {
      // One in-process database: the second store shares it, through a counted query function.
      type Method = (...args: unknown[]) => Promise<unknown>;
      const db = harnessOptions.pglite as { query: Method; exec: Method; listen: Method; unlisten: Method };
      const counted = {
        query: (text: unknown, ...rest: unknown[]) => {
          if (isRead(text)) reads++;
          return db.query(text, ...rest);
        },
        exec: db.exec.bind(db),
        listen: db.listen.bind(db),
        unlisten: db.unlisten.bind(db),
      };
      return { options: { pglite: counted }, application, reads: () => reads, close: async () => {} };
    }
    default:
      throw new Error(`no counted driver for ${driverName}`);
  }
}

/** The session, answered without a statement: once a poll of the change log has confirmed it. */
async function cachedGet(store: Store, counted: CountedDriver, sid: string): Promise<any> {
  let answer: any = null;
  const answered = await eventually(async () => {
    const before = counted.reads();
    answer = await store.get(sid);
    return answer !== null && counted.reads() === before;
  }, PATIENCE_MS);
  assert.ok(answered, `a second get of ${sid} is answered from memory`);
  return answer;
}

/**
 * Reads `sid` until `fresh(session)`, after a change that committed before `changedAt`: no get
 * that began more than READ_CACHE_BOUND_MS after the change may answer with what was before it.
 */
async function seenWithinBound(store: Store, sid: string, fresh: (session: any) => boolean, changedAt: number) {
  for (;;) {
    const startedAt = performance.now();
    const session = await store.get(sid);
    if (fresh(session)) return;
    assert.ok(
      startedAt - changedAt <= READ_CACHE_BOUND_MS,
      `a get that began ${Math.round(startedAt - changedAt)} ms after the change answered with the session as it was before`,
    );
    assert.ok(startedAt - changedAt < PATIENCE_MS, 'the change is seen');
    await nextTurn();
  }
}

const gone = (session: unknown) => session === null;

/** SQL: is this backend's last statement one of the poller's (a poll or a clean-up)? */
const POLLER_QUERY = `(query LIKE 'SELECT pg_snapshot_xmin(%' OR query LIKE 'WITH gone AS (DELETE FROM %')`;

/** Ends the store's polling connection from outside (not its pool's). */
async function terminatePoller(q: (text: string, values?: unknown[]) => Promise<any[]>, application: string) {
  const rows = await q(
    `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
     WHERE application_name = $1 AND backend_type = 'client backend' AND ${POLLER_QUERY}`,
    [application],
  );
  return rows.length;
}

for (const driverName of ['pg', 'pg-promise', 'postgres', 'pglite']) {
  describe(`readCache: true, ${driverName}`, () => {
    const stores = useDriverStores(driverName, 'cps_trusted', { readCache: true });
    const { newStore, q, table, logged } = stores;

    /** Another store on a pool of its own, whose reads are counted. */
    function counterpart(options: Record<string, unknown> = {}) {
      const counted = countedDriver(driverName, stores.harness.storeOptions);
      const store = newStore({ ...counted.options, ...options });
      return { store, counted };
    }

    it('answers a second read from memory; sees another store’s change, revoke and destroy within the bound', async (t) => {
      const a = newStore({ tableName: 'seen' });
      const { store: b, counted } = counterpart({ tableName: 'seen' });
      t.after(() => counted.close());
      await a.set('ann-1', inSeconds(3600, { userId: 'ann', n: 1 }) as never);
      await a.set('bob-1', inSeconds(3600, { n: 1 }) as never);
      assert.equal((await cachedGet(b, counted, 'ann-1')).n, 1);

      const loaded = (await a.get('ann-1')) as any;
      loaded.n = 2;
      await a.set('ann-1', loaded);
      await seenWithinBound(b, 'ann-1', (s) => s?.n === 2, performance.now());

      assert.equal((await cachedGet(b, counted, 'ann-1')).n, 2);
      assert.equal(await a.destroyUserSessions('ann'), 1);
      await seenWithinBound(b, 'ann-1', gone, performance.now());

      assert.equal((await cachedGet(b, counted, 'bob-1')).n, 1);
      await a.destroy('bob-1');
      await seenWithinBound(b, 'bob-1', gone, performance.now());
      assert.deepEqual(logged, [], 'nothing was logged');
    });

    it('after changing a session, answers its next read from memory; a change by another store after it is still seen', async (t) => {
      const { store: a, counted } = counterpart({ tableName: 'own_write' });
      t.after(() => counted.close());
      const b = newStore({ tableName: 'own_write' });
      await a.set('s', inSeconds(3600, { n: 0 }) as never);
      await a.set('other', inSeconds(3600, { n: 0 }) as never);
      let session = await cachedGet(a, counted, 's');
      await cachedGet(a, counted, 'other');
      // Each round: a change, then two polls' time, then a get of another session answered from
      // memory (the polls are current) and at once a get of the changed one. A round where the
      // polls lagged on a busy machine proves nothing and goes again.
      let answeredFromMemory = false;
      for (let round = 1; round <= 20 && !answeredFromMemory; round++) {
        session.n = round;
        await a.set('s', session);
        await sleep(READ_CACHE_BOUND_MS * 2);
        let reads = counted.reads();
        await a.get('other');
        if (counted.reads() !== reads) continue;
        reads = counted.reads();
        session = await a.get('s');
        assert.equal(session.n, round, 'the changed session as this store wrote it');
        answeredFromMemory = counted.reads() === reads;
      }
      assert.ok(answeredFromMemory, 'a get right after this store changed the session was answered from memory');

      const elsewhere = (await b.get('s')) as any;
      elsewhere.n = 100;
      await b.set('s', elsewhere);
      await seenWithinBound(a, 's', (s) => s?.n === 100, performance.now());
      assert.deepEqual(logged, [], 'nothing was logged');
    });

    it('a change that a trigger of the table rewrites as it is stored is read again, not kept as this store wrote it', async (t) => {
      const { store: a, counted } = counterpart({ tableName: 'rewritten' });
      t.after(() => counted.close());
      await a.set('s', inSeconds(3600, { n: 0 }) as never);
      const t1 = table('rewritten');
      const stamp = `${t1.replace(/"/g, '').replace('.', '_')}_stamp`;
      await q(`CREATE FUNCTION ${stamp}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.sess := (NEW.sess::jsonb || '{"stamped": true}')::json; RETURN NEW; END $$`);
      t.after(() => q(`DROP FUNCTION ${stamp}() CASCADE`));
      await q(`CREATE TRIGGER stamp BEFORE UPDATE ON ${t1} FOR EACH ROW EXECUTE FUNCTION ${stamp}()`);
      const session = await cachedGet(a, counted, 's');
      session.n = 1;
      await a.set('s', session);
      // Polls of the change log have reported the write by now: only what the write returned can tell.
      await sleep(READ_CACHE_BOUND_MS * 2);
      const again = (await a.get('s')) as any;
      assert.equal(again.n, 1);
      assert.equal(again.stamped, true, 'the session as the table holds it, with what the trigger added');
    });

    it('sees plain SQL: a DELETE, an UPDATE of the session, an expiry moved to now', async (t) => {
      const { store: b, counted } = counterpart({ tableName: 'plain_sql' });
      t.after(() => counted.close());
      const t1 = table('plain_sql');
      for (const [sid, change] of [
        ['deleted', `DELETE FROM ${t1}`],
        ['changed', `UPDATE ${t1} SET sess = json_build_object('cookie', sess->'cookie', 'n', 2)`],
        ['expired', `UPDATE ${t1} SET expire = now()`],
      ] as const) {
        await b.set(sid, inSeconds(3600, { n: 1 }) as never);
        assert.equal((await cachedGet(b, counted, sid)).n, 1);
        await q(change);
        await seenWithinBound(b, sid, (s) => s === null || s.n === 2, performance.now());
        await q(`DELETE FROM ${t1}`);
      }
    });

    it('a session destroyed elsewhere is not brought back by a write of what the cache answered', async (t) => {
      const a = newStore({ tableName: 'resurrect' });
      const { store: b, counted } = counterpart({ tableName: 'resurrect' });
      t.after(() => counted.close());
      await a.set('victim', inSeconds(3600, { n: 1 }) as never);
      const cached = await cachedGet(b, counted, 'victim');
      await a.destroy('victim');
      cached.n = 2;
      await b.set('victim', cached);
      await b.touch('victim', cached);
      assert.deepEqual(await q(`SELECT sid FROM ${table('resurrect')}`), [], 'no row comes back');
      await seenWithinBound(b, 'victim', gone, performance.now());
    });

    it('a table that loses a change-log trigger is read every time', async (t) => {
      const { store: b, counted } = counterpart({ tableName: 'no_notices' });
      t.after(() => counted.close());
      const t1 = table('no_notices');
      await b.set('s', inSeconds(3600, { n: 1 }) as never);
      assert.equal((await cachedGet(b, counted, 's')).n, 1);
      // Dropped while the store runs: its polls say so, so no hit outlives the bound.
      await q(`DROP TRIGGER cps_changed_delete ON ${t1}`);
      const droppedAt = performance.now();
      await q(`DELETE FROM ${t1}`);
      await seenWithinBound(b, 's', gone, droppedAt);
      assert.ok(
        await eventually(
          async () => logged.some((line) => /lost its change-log triggers/.test(String(line))),
          PATIENCE_MS,
        ),
        'it says why',
      );

      // A store that starts on such a table never answers from memory.
      const { store: c, counted: countedC } = counterpart({ tableName: 'no_notices' });
      t.after(() => countedC.close());
      await c.set('s2', inSeconds(3600, { n: 1 }) as never);
      for (let i = 0; i < 5; i++) assert.equal(((await c.get('s2')) as any).n, 1);
      assert.equal(countedC.reads(), 5, 'every get read the table');
      assert.ok(
        await eventually(
          async () => logged.some((line) => /change-log triggers are off: turn them on/.test(String(line))),
          PATIENCE_MS,
        ),
        'it says why',
      );
      logged.splice(0);
    });

    it('a user recorded by a touch is not recorded again from a copy the cache kept', async (t) => {
      const { store, counted } = counterpart({ tableName: 'recorded' });
      t.after(() => counted.close());
      await store.set('s', inSeconds(3600, { userId: 'ann', n: 1 }) as never);
      // As a row stored before the table had a user column: the session names its user, the row none.
      await q(`UPDATE ${table('recorded')} SET user_id = NULL`);
      const cached = await cachedGet(store, counted, 's');
      const recorder = channelRecorder();
      recorder.start();
      t.after(() => recorder.stop());
      await store.touch('s', cached);
      const first = callOf(recorder.published, 'touch');
      assert.equal(first.ended.statements, 1, 'the touch records the user');
      const from = recorder.published.length;
      await store.touch('s', (await store.get('s'))!);
      assert.equal(
        callOf(recorder.published, 'touch', from).ended.statements,
        0,
        'the next request has nothing to record',
      );
      assert.equal((await q(`SELECT user_id FROM ${table('recorded')}`))[0]?.user_id, 'ann');
    });

    it('a touch of a session that has expired meanwhile does not bring it back in the cache', async (t) => {
      const { store, counted } = counterpart({ tableName: 'expired', ttl: 2 });
      t.after(() => counted.close());
      await store.set('s', inSeconds(3600, { n: 1 }) as never);
      // A request loaded it from memory, and touches it after the row's end (a slow request),
      // while other requests keep the cache in use (and its polls current).
      const loaded = await cachedGet(store, counted, 's');
      const ends = Date.now() + 2200;
      while (Date.now() < ends) {
        await store.set('other', inSeconds(3600, { n: 2 }) as never);
        await sleep(50);
      }
      await store.touch('s', loaded);
      await cachedGet(store, counted, 'other');
      assert.equal(await store.get('s'), null, 'the row ended: no touch extends it, nor what the cache held of it');
    });

    it('a touch lengthens what the cache serves, never past the absolute timeout', async (t) => {
      const { store, counted } = counterpart({ tableName: 'absolute', absoluteTimeout: 2 });
      t.after(() => counted.close());
      await store.set('s', inSeconds(3600, { n: 1 }) as never);
      const absoluteEnd = performance.now() + 2000;
      const absoluteEndWallClock = Date.now() + 2000;
      const cached = await cachedGet(store, counted, 's');
      // The row's end is its absolute one, 2 s away; the request renews its cookie for an hour (as
      // express-session's rolling cookies do): a touch is due, and says the row has an hour.
      cached.cookie.expires = new Date(Date.now() + 3_600_000).toISOString();
      await store.touch('s', cached);
      const again = await cachedGet(store, counted, 's');
      assert.ok(
        Date.parse(again.cookie.expires) <= absoluteEndWallClock + READ_CACHE_BOUND_MS,
        `the cookie says when the absolute timeout ends the session, not ${again.cookie.expires}`,
      );
      await seenWithinBound(store, 's', gone, absoluteEnd);
    });

    it('a change of the session kept in the cache is never served past the absolute timeout', async (t) => {
      const { store, counted } = counterpart({ tableName: 'absolute_change', absoluteTimeout: 2 });
      t.after(() => counted.close());
      await store.set('s', inSeconds(3600, { n: 1 }) as never);
      const absoluteEnd = performance.now() + 2000;
      const cached = await cachedGet(store, counted, 's');
      cached.n = 2;
      cached.cookie.expires = new Date(Date.now() + 3_600_000).toISOString();
      await store.set('s', cached);
      assert.equal((await cachedGet(store, counted, 's')).n, 2);
      await seenWithinBound(store, 's', gone, absoluteEnd);
    });

    it('a table without the change log (schema 4 made by an earlier build) is read every time, and the store says to migrate', async (t) => {
      await newStore({ tableName: 'notices_off', readCache: false }).length();
      for (const trigger of ['cps_changed_delete', 'cps_changed_update', 'cps_changed_truncate']) {
        await q(`DROP TRIGGER ${trigger} ON ${table('notices_off')}`);
      }
      await q(`DROP TABLE ${table('notices_off_changes')}`);
      const { store, counted } = counterpart({ tableName: 'notices_off' });
      t.after(() => counted.close());
      await store.set('s', inSeconds(3600, { n: 1 }) as never);
      for (let i = 0; i < 3; i++) assert.equal(((await store.get('s')) as any).n, 1);
      assert.equal(counted.reads(), 3, 'every get read the table');
      assert.ok(
        await eventually(
          async () => logged.some((line) => /has no change log .*migrate/.test(String(line))),
          PATIENCE_MS,
        ),
        'it says how to add it',
      );
      logged.splice(0);
    });

    if (driverName !== 'pglite') {
      it('with its polling connection cut, serves nothing stale until it polls again', async (t) => {
        const { store: b, counted } = counterpart({ tableName: 'cut' });
        t.after(() => counted.close());
        const t1 = table('cut');
        await b.set('during', inSeconds(3600, { n: 1 }) as never);
        await b.set('after', inSeconds(3600, { n: 1 }) as never);
        assert.equal((await cachedGet(b, counted, 'during')).n, 1);
        assert.equal((await cachedGet(b, counted, 'after')).n, 1);
        const ended = await terminatePoller(q, counted.application);
        assert.equal(ended, 1, 'one polling connection ended');
        // Committed while the poller has no connection.
        await q(`DELETE FROM ${t1}`);
        await seenWithinBound(b, 'during', gone, performance.now());
        await b.set('next', inSeconds(3600, { n: 2 }) as never);
        assert.equal((await cachedGet(b, counted, 'next')).n, 2, 'it polls, and answers from memory, again');
        assert.equal(await b.get('after'), null, 'what it remembered from before its new epoch is not trusted');
        await q(`DELETE FROM ${t1}`);
        await seenWithinBound(b, 'next', gone, performance.now());
        logged.splice(0);
      });
    }
  });
}

describe('readCache: true, the store’s own connections (conString)', () => {
  const { newStore, q, table, logged } = useDriverStores('pg-pipeline', 'cps_trusted_owned', { readCache: true });

  it('polls with a connection made from the same settings, and sees a DELETE by plain SQL', async () => {
    const application = uniqueName('cps_listen');
    const url = new URL(databaseUrl());
    url.searchParams.set('application_name', application);
    const store = newStore({ conString: url.href, pipeline: false, tableName: 'owned' });
    await store.set('s', inSeconds(3600, { n: 1 }) as never);
    assert.equal(((await store.get('s')) as any).n, 1);
    const polling = async () =>
      (await q(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND ${POLLER_QUERY}`, [application]))
        .length === 1;
    assert.ok(await eventually(async () => (await store.get('s')) !== null && (await polling()), PATIENCE_MS));
    await q(`DELETE FROM ${table('owned')}`);
    await seenWithinBound(store, 's', gone, performance.now());
    assert.deepEqual(logged, []);
  });
});

describe('readCache: true through PgBouncer in transaction mode', { skip: pgbouncerMissing() }, () => {
  const { newStore, q, table, logged } = useDriverStores('pgbouncer', 'cps_trusted_bouncer', { readCache: true });

  it('does not trust a polling connection behind a pooler: every get reads the table', async () => {
    const store = newStore({ tableName: 'bounced' });
    await store.set('s', inSeconds(3600, { n: 1 }) as never);
    assert.equal(((await store.get('s')) as any).n, 1);
    assert.ok(
      await eventually(async () => {
        await store.get('s');
        return logged.some((line) => /through a pooler or proxy/.test(String(line)));
      }, PATIENCE_MS),
      'it says why it reads the table',
    );
    for (let i = 0; i < 3; i++) {
      await q(`UPDATE ${table('bounced')} SET sess = json_build_object('cookie', sess->'cookie', 'n', ${i + 2})`);
      assert.equal(((await store.get('s')) as any).n, i + 2, 'a change is seen by the very next get');
    }
    await q(`DELETE FROM ${table('bounced')}`);
    assert.equal(await store.get('s'), null, 'a DELETE is seen by the very next get');
    logged.splice(0);
  });
});
