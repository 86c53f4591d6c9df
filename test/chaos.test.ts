import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import postgres from 'postgres';
import connectPgSimple from '../src/index.js';
import { type BlinkingServer, startBlinkingServer } from './support/blinking-server.js';
import { AckedWrites, CallbackLedger } from './support/load-ledgers.js';
import { storedId } from './support/sessions.js';
import { isUnsentLoginTimeout, UnsentLogins } from './support/unsent-logins.js';

/**
 * Chaos: a steady load of request cycles (get, then set 10 % / touch 90 %) through four stores —
 * one with a pool it owns (conString, `pipeline: false`), one pipelined (conString, the default), one with a user's pg.Pool, one with postgres.js — while
 * PostgreSQL restarts twice. Takes about half a minute, so it runs with the other tests.
 */
const { PGStore } = connectPgSimple;
type Store = InstanceType<typeof PGStore>;

const DOWN_MS = 2000;
/** How soon after the server is back every store must serve again. */
const RECOVERY_BOUND_MS = 10_000;
/** Errors may start a little before the stop: cycles in flight when the server goes down fail. */
const LEAD_MS = 500;
const PAUSE_MS = 10;
const WORKERS_PER_STORE = 4;
const SIDS_PER_WORKER = 20;
/** A callback later than this counts as lost (the operation time limit is far below it). */
const LOST_AFTER_MS = 30_000;

interface Cycle {
  readonly store: string;
  readonly started: number;
  readonly ended: number;
  readonly ok: boolean;
  /** What failed the cycle (a missing session: `missing`), for the log. */
  readonly error?: unknown;
}

interface Outage {
  readonly stopped: number;
  readonly up: number;
}

describe('chaos: PostgreSQL restarts under load', () => {
  let server: BlinkingServer;
  let userPool: pg.Pool | undefined;
  let sql: postgres.Sql | undefined;
  const stores: Array<[string, Store]> = [];
  const logged: unknown[][] = [];
  const poolErrors: Error[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  before(async () => {
    server = await startBlinkingServer();
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    await Promise.all(stores.map(([, store]) => store.close()));
    await userPool?.end();
    await sql?.end({ timeout: 1 });
    await server?.destroy();
  });

  it('keeps every callback, loses no acknowledged write, and recovers within the bound', async () => {
    const options = {
      createTableIfMissing: true,
      pruneSessionInterval: 1,
      operationTimeout: 5000,
      errorLog: (...args: unknown[]) => logged.push(args),
    };
    userPool = new pg.Pool({ connectionString: server.url, max: 5 });
    // A user's pool needs its own 'error' listener, as pg documents: idle connections die in a restart.
    userPool.on('error', (error) => poolErrors.push(error));
    // postgres.js waits longer and longer between reconnection attempts (up to 20 s by default):
    // its `backoff` option bounds that wait, here to half a second.
    sql = postgres(server.url, { max: 5, onnotice: () => {}, backoff: (retries) => Math.min(0.05 * retries, 0.5) });
    stores.push(
      ['owned pool', new PGStore({ ...options, conString: server.url, pipeline: false })],
      ['owned, pipelined', new PGStore({ ...options, conString: server.url })],
      ['user pg.Pool', new PGStore({ ...options, pool: userPool })],
      ['postgres.js', new PGStore({ ...options, postgres: sql })],
    );
    const ledger = new CallbackLedger(LOST_AFTER_MS);
    const writes = new AckedWrites();
    const cycles: Cycle[] = [];
    let missing = 0;
    let running = true;
    const session = (n: number) => ({
      cookie: { originalMaxAge: 86_400_000, expires: new Date(Date.now() + 86_400_000).toISOString() },
      n,
    });

    for (const [label, store] of stores) {
      for (let w = 0; w < WORKERS_PER_STORE; w++) {
        for (let k = 0; k < SIDS_PER_WORKER; k++) {
          const sid = `${label}/${w}/${k}`;
          await store.set(sid, session(0) as any);
          writes.add(sid);
        }
      }
    }

    /** A request cycle: undefined when it succeeded, else what failed it. */
    const cycle = async (store: Store, sid: string): Promise<unknown> => {
      const loaded = await ledger.call<any>((cb) => store.get(sid, cb));
      if (loaded.error) return loaded.error;
      if (loaded.value === null) {
        missing++;
        return 'missing';
      }
      if (Math.random() < 0.1) {
        return await writes.write(sid, (n) => ledger.call((cb) => store.set(sid, { ...loaded.value, n }, cb)));
      }
      const { error } = await ledger.call((cb) => store.touch(sid, loaded.value, cb));
      return error;
    };

    const worker = async (label: string, store: Store, w: number) => {
      while (running) {
        const sid = `${label}/${w}/${Math.floor(Math.random() * SIDS_PER_WORKER)}`;
        const started = performance.now();
        const error = await cycle(store, sid);
        cycles.push({ store: label, started, ended: performance.now(), ok: !error, error });
        await sleep(PAUSE_MS);
      }
    };
    const load = stores.flatMap(([label, store]) =>
      Array.from({ length: WORKERS_PER_STORE }, (_, w) => worker(label, store, w)),
    );

    const unsentLogins = new UnsentLogins([Number(new URL(server.url).port)]);
    const watching = (async () => {
      while (running) {
        unsentLogins.sample();
        await sleep(200);
      }
    })();

    const outages: Outage[] = [];
    await sleep(2000);
    for (let i = 0; i < 2; i++) {
      const stopped = performance.now();
      await server.stop();
      await sleep(DOWN_MS);
      await server.start();
      outages.push({ stopped, up: performance.now() });
      // Past the recovery bound, so that the two outages' windows do not overlap.
      await sleep(RECOVERY_BOUND_MS + 1000);
    }
    running = false;
    await Promise.all(load);
    await watching;
    await sleep(200);

    // Figures first, so that they show even when an assertion fails.
    const counts = [...ledger.calls.values()];
    const windows = outages.map((o) => ({ from: o.stopped - LEAD_MS, to: o.up + RECOVERY_BOUND_MS }));
    const failed = cycles.filter((c) => !c.ok);
    const outsideAll = failed.filter((c) => !windows.some((w) => c.started >= w.from && c.started <= w.to));
    // postgres.js 3.x may leave a connection slot that never sends its login again (see
    // test/support/unsent-logins.ts): the time-outs of the statements it is given are its own.
    const postgresJsDefect = (c: Cycle) =>
      c.store === 'postgres.js' && unsentLogins.mostAtOnce > 0 && isUnsentLoginTimeout(c.error);
    const outside = outsideAll.filter((c) => !postgresJsDefect(c));
    const windowMs = windows.reduce((sum, w) => sum + (w.to - w.from), 0);
    const errorBound = stores.length * WORKERS_PER_STORE * Math.ceil(windowMs / PAUSE_MS + 1);
    const recoveries = outages.map((o) =>
      stores.map(([label]) => {
        const first = cycles.find((c) => c.store === label && c.ok && c.started >= o.up);
        return first === undefined ? Number.POSITIVE_INFINITY : first.ended - o.up;
      }),
    );
    const check = new pg.Client({ connectionString: server.url });
    await check.connect();
    const stored = new Map(
      (await check.query('SELECT sid, (sess->>$1)::int AS n FROM session', ['n'])).rows.map((r) => [r.sid, r.n]),
    );
    await check.end();

    const ms = (x: number) => `${Math.round(x)} ms`;
    console.log(
      `# chaos: ${cycles.length} request cycles, ${counts.length} callbacks, ${failed.length} failed cycles (bound ${errorBound}), ${outside.length} outside an outage`,
    );
    outages.forEach((o, i) => {
      const errors = failed.filter((c) => c.started >= windows[i]!.from && c.started <= windows[i]!.to).length;
      console.log(
        `# chaos: restart ${i + 1}: outage ${ms(o.up - o.stopped)} (server down ${ms(DOWN_MS)}), ${errors} failed cycles, recovery ${stores
          .map(([label], s) => `${label} ${ms(recoveries[i]![s]!)}`)
          .join(', ')} (bound ${ms(RECOVERY_BOUND_MS)})`,
      );
    });
    console.log(
      `# chaos: ${writes.acknowledged} acknowledged sets on ${writes.sessions} sessions checked; ${poolErrors.length} idle-connection errors on the user pool, ${logged.length} errorLog lines`,
    );

    if (unsentLogins.mostAtOnce > 0) {
      console.log(
        `# chaos: up to ${unsentLogins.mostAtOnce} postgres.js connection(s) at once open for a second or more without sending their login (the postgres.js 3.x defect in docs/scaling.md); ${outsideAll.length - outside.length} time-out(s) of the postgres.js store outside an outage set apart`,
      );
    }
    for (const c of outside) {
      console.log(
        `# chaos: failed outside an outage: ${c.store}, started ${ms(c.started - (outages[0]?.stopped ?? 0))} after the first stop: ${String(c.error)}`,
      );
    }

    // Every callback exactly once; nothing unhandled; no session lost.
    assert.equal(ledger.lost, 0, 'no callback lost');
    assert.equal(counts.filter((c) => c !== 1).length, 0, 'every callback called exactly once');
    assert.deepEqual(unhandled, [], 'no unhandled rejection or uncaught exception');
    assert.equal(missing, 0, 'no session went missing');
    // Errors only during an outage, and no more than the load could produce in it.
    assert.equal(outside.length, 0, 'no error outside an outage and its recovery bound');
    assert.ok(failed.length <= errorBound, `${failed.length} errors, at most ${errorBound}`);
    // Service back within the bound, for each store after each restart.
    for (const r of recoveries.flat()) assert.ok(r <= RECOVERY_BOUND_MS, `recovered in ${ms(r)}`);
    // Every acknowledged write is there (or a later attempt that failed, yet landed).
    // The table holds the hash of each id.
    assert.deepEqual(
      writes.lostWrites((sid) => stored.get(storedId(sid))),
      [],
    );
  });
});
