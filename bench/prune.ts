import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { timedCycleLoad } from './cycle.js';
import {
  type BenchEnv,
  callbackStore,
  LAZY_TOUCH_WINDOW_SECONDS,
  newPgPool,
  oursStoreClass,
} from './lib/contenders.js';
import { Histogram } from './lib/histogram.js';
import type { LoadResult } from './lib/load.js';
import { newSession } from './lib/sessions.js';
import { timedPool } from './lib/timed-pool.js';

/** SQL: the id the table stores (hashed, as the store's default) for session `g` of the fill with prefix `$1`. */
const STORED_ID = `encode(sha256(convert_to($1 || md5(g::text), 'UTF8')), 'hex')`;
/** Targets of issue 5. */
export const PRUNE_TARGETS = { maxStatementMs: 250, getP99Ratio: 2 } as const;

export interface PruneRun {
  readonly batchSize: number;
  readonly finished: boolean;
  readonly deleted: number;
  readonly seconds: number;
  readonly rowsPerSec: number;
  readonly statements: number;
  readonly statementP50Ms: number;
  readonly statementP99Ms: number;
  readonly statementMaxMs: number;
  /** Which statement (1 = the first) took longest, and how many took over the target. */
  readonly slowestStatement: number;
  readonly statementsOverTarget: number;
  /** The request-cycle load on live sessions, before the prune and while it ran. */
  readonly baseline: LoadSummary;
  readonly during: LoadSummary;
  readonly getP99Ratio: number;
}

export interface LoadSummary {
  readonly cyclesPerSec: number;
  readonly getP50Ms: number;
  readonly getP99Ms: number;
  readonly errors: number;
}

export interface PruneResult {
  readonly expired: number;
  readonly live: number;
  readonly runs: readonly PruneRun[];
}

/** The times of the prune's DELETE statements. */
interface StatementTimes {
  readonly histogram: Histogram;
  slowest: number;
  overTarget: number;
}

/**
 * Records the prune's DELETE statements' times (its pool has one connection of its own: the time
 * is the statement's, never a wait for a connection).
 */
function recordDelete(deletes: StatementTimes) {
  return (text: string, elapsed: number) => {
    if (!text.includes('DELETE')) return;
    if (elapsed > deletes.histogram.max) deletes.slowest = deletes.histogram.count + 1;
    if (elapsed > PRUNE_TARGETS.maxStatementMs) deletes.overTarget += 1;
    deletes.histogram.record(elapsed);
  };
}

function loadSummary(cycles: LoadResult, gets: Histogram): LoadSummary {
  return {
    cyclesPerSec: cycles.opsPerSec,
    getP50Ms: gets.percentile(50),
    getP99Ms: gets.percentile(99),
    errors: cycles.errors,
  };
}

/**
 * Issue 5: a table of `expired` expired and `live` live sessions, pruned by ours in batches
 * while the request-cycle load runs on the live sessions. For each batch size the expired rows
 * are put back and the table vacuumed, so that every size starts from the same state.
 */
export async function runPrune(env: BenchEnv, log: (line: string) => void): Promise<PruneResult> {
  const { settings, admin } = env;
  const { expired, live, batchSizes, baselineMs, maxMs, concurrency } = settings.prune;
  const table = 'prune';
  const t = admin.qualified(table);
  await admin.createOursTable(table);
  const sess = JSON.stringify(newSession(0));
  const fill = async (prefix: 'e' | 'l', count: number) => {
    const expire =
      prefix === 'e'
        ? `now() - interval '1 second' - random() * interval '7 days'`
        : `now() + interval '1 day' + random() * ${LAZY_TOUCH_WINDOW_SECONDS} * interval '1 second'`;
    const chunk = 250_000;
    for (let from = 1; from <= count; from += chunk) {
      const to = Math.min(count, from + chunk - 1);
      await admin.query(
        `INSERT INTO ${t} (sid, sess, expire) SELECT ${STORED_ID}, $2::json, ${expire} FROM generate_series($3::int, $4::int) AS g`,
        [prefix, sess, from, to],
      );
    }
  };
  let t0 = performance.now();
  await fill('l', live);
  // The cookies' ids of the live sessions: the table holds their hashes.
  const sids = Array.from(
    { length: live },
    (_, i) =>
      `l${createHash('md5')
        .update(String(i + 1))
        .digest('hex')}`,
  );

  const loadPool = newPgPool(settings);
  const Store = oursStoreClass();
  // The app's store: default options but no pruning of its own.
  const appStore = new Store({
    pool: loadPool,
    schemaName: settings.schema,
    tableName: table,
    pruneSessionInterval: false,
  });
  const measure = timedCycleLoad(callbackStore(appStore), sids, concurrency);
  const load = async (durationMs: number, until?: Promise<unknown>) => {
    const { cycles, gets } = await measure(durationMs, until);
    return loadSummary(cycles, gets);
  };

  const runs: PruneRun[] = [];
  try {
    for (const batchSize of batchSizes) {
      t0 = performance.now();
      await admin.query(`DELETE FROM ${t} WHERE expire < now()`);
      await admin.query(`VACUUM ${t}`);
      await fill('e', expired);
      await admin.query(`VACUUM ANALYZE ${t}`);
      log(
        `  batch ${batchSize}: filled ${expired.toLocaleString('en-US')} expired + ${live.toLocaleString('en-US')} live sessions in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      const baseline = await load(baselineMs);

      const times: StatementTimes = { histogram: new Histogram(), slowest: 0, overTarget: 0 };
      const deletes = times.histogram;
      const prunePool = newPgPool(settings, 1);
      const pruner = new Store({
        pool: timedPool(prunePool, recordDelete(times)),
        schemaName: settings.schema,
        tableName: table,
        pruneSessionInterval: false,
        pruneBatchSize: batchSize,
      });
      const started = performance.now();
      let finishedAt = 0;
      const pruned = pruner.pruneSessions().then((n) => {
        finishedAt = performance.now();
        return n;
      });
      const during = await load(maxMs, pruned);
      const finished = finishedAt > 0;
      // Out of time: closing the store stops the prune after the statement in flight.
      if (!finished) await pruner.close();
      const deleted = finished
        ? await pruned
        : expired - Number((await admin.query(`SELECT count(*) AS n FROM ${t} WHERE expire < now()`))[0].n);
      const seconds = ((finished ? finishedAt : performance.now()) - started) / 1000;
      await pruner.close();
      await prunePool.end();
      const run: PruneRun = {
        batchSize,
        finished,
        deleted,
        seconds,
        rowsPerSec: deleted / seconds,
        statements: deletes.count,
        statementP50Ms: deletes.percentile(50),
        statementP99Ms: deletes.percentile(99),
        statementMaxMs: deletes.max,
        slowestStatement: times.slowest,
        statementsOverTarget: times.overTarget,
        baseline,
        during,
        getP99Ratio: during.getP99Ms / baseline.getP99Ms,
      };
      runs.push(run);
      log(
        `  batch ${batchSize}: ${finished ? 'finished' : 'NOT finished'}: ${deleted.toLocaleString('en-US')} rows in ${seconds.toFixed(1)} s = ${Math.round(run.rowsPerSec).toLocaleString('en-US')} rows/s; ${run.statements} statements, p50 ${run.statementP50Ms.toFixed(1)} ms, p99 ${run.statementP99Ms.toFixed(1)} ms, max ${run.statementMaxMs.toFixed(1)} ms (statement #${run.slowestStatement}; ${run.statementsOverTarget} over ${PRUNE_TARGETS.maxStatementMs} ms); get p99 ${baseline.getP99Ms.toFixed(2)} → ${during.getP99Ms.toFixed(2)} ms (${run.getP99Ratio.toFixed(2)}×); cycles/s ${Math.round(baseline.cyclesPerSec)} → ${Math.round(during.cyclesPerSec)}`,
      );
    }
  } finally {
    await appStore.close();
    await loadPool.end();
  }
  return { expired, live, runs };
}
