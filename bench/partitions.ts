import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { timedCycleLoad } from './cycle.js';
import { type BenchEnv, callbackStore, newPgPool, oursStoreClass } from './lib/contenders.js';
import { Histogram } from './lib/histogram.js';
import { newSession } from './lib/sessions.js';
import { timedPool } from './lib/timed-pool.js';

type Ddl = typeof import('../src/schema/ddl.js');
type Partitions = typeof import('../src/schema/partitions.js');
type Sql = typeof import('../src/sql.js');
// Types from the source, code from the build that `npm run bench` has just made.
const ddl: Ddl = require('../dist/schema/ddl.js');
const partitions: Partitions = require('../dist/schema/partitions.js');
const sql: Sql = require('../dist/sql.js');

const DAY = 86_400;
/** Ids whose sessions the load reads and writes: a sample of the live ones. */
const LOADED_SESSIONS = 100_000;
const FILL_CHUNK = 500_000;

export type Layout = 'plain' | 'partitioned';

export interface LatencySummary {
  readonly cyclesPerSec: number;
  readonly getP50Ms: number;
  readonly getP99Ms: number;
  readonly getMaxMs: number;
  readonly errors: number;
}

export interface LayoutRun {
  readonly layout: Layout;
  readonly fillSeconds: number;
  /** The store's prune: what it said it removed, how long it took, its statements. */
  readonly pruned: number;
  readonly pruneSeconds: number;
  readonly statements: number;
  readonly statementMaxMs: number;
  readonly baseline: LatencySummary;
  /** From the prune's start until it ended, and for at least `minWindowMs`. */
  readonly during: LatencySummary;
  readonly getP99Ratio: number;
  readonly before: TableFigures;
  readonly after: TableFigures;
}

export interface TableFigures {
  readonly totalBytes: number;
  readonly liveTuples: number;
  readonly deadTuples: number;
}

export interface GetByPartitions {
  /** Partitions a `get` probes (0: the plain table). */
  readonly partitions: number;
  readonly rows: number;
  readonly getP50Ms: number;
  readonly getP99Ms: number;
}

export interface PartitionsResult {
  readonly rows: number;
  readonly days: number;
  /** Rows created on the oldest day: expired in both layouts, the day a prune removes. */
  readonly expiredDay: number;
  readonly runs: readonly LayoutRun[];
  readonly getByPartitions: readonly GetByPartitions[];
}

/** `sha256` ids, as the store stores a cookie's id `s<g>` by default. */
const storedId = (g: string) => `encode(sha256(convert_to('s' || ${g}, 'UTF8')), 'hex')`;

/**
 * Issue 17: the same `rows` sessions in a plain table and in a partitioned one (a partition a day),
 * created evenly over the `days` whole days before today, with an absolute lifetime of `days - 1`
 * days: the oldest day's sessions are expired (in the partitioned table, their partition is
 * droppable), the others alive. Each layout is pruned by a store while the request-cycle load runs
 * on live sessions; the figures are the prune's time, `get` latency before and during it, and the
 * table's size and dead row versions after.
 */
export async function runPartitions(env: BenchEnv, log: (line: string) => void): Promise<PartitionsResult> {
  const { settings, admin } = env;
  const { rows, days, baselineMs, minWindowMs, concurrency } = settings.partitions;
  const lifetimeSeconds = (days - 1) * DAY;
  const [clock] = await admin.query(
    `SELECT extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'UTC'))::float8 AS today`,
  );
  const today = Number(clock.today);
  const firstDay = today - days * DAY;
  const sess = JSON.stringify(newSession(0));

  const fill = async (layout: Layout): Promise<{ table: string; seconds: number }> => {
    const table = `sessions_${layout}`;
    const names = sql.tableNames(table, settings.schema);
    const t0 = performance.now();
    const partitioning = layout === 'partitioned' ? { widthSeconds: DAY, lifetimeSeconds } : undefined;
    for (const statement of ddl.createTableStatements(names, { partitioning })) await admin.query(statement);
    if (partitioning !== undefined) {
      for (let day = 0; day < days; day++) {
        const from = firstDay + day * DAY;
        await admin.query(partitions.createPartitionStatement(names, { from, to: from + DAY }));
      }
    }
    // Filled without its indexes, which are built afterwards: the state of a table that grew over days.
    await admin.query(`ALTER TABLE ${names.qualified} DROP CONSTRAINT ${names.primaryKey}`);
    await admin.query(`DROP INDEX ${names.quotedSchema}.${names.expireIndex}`);
    for (let from = 1; from <= rows; from += FILL_CHUNK) {
      const to = Math.min(rows, from + FILL_CHUNK - 1);
      // Expired: the oldest day's sessions, past their absolute lifetime. Alive: the rest, each with
      // an idle expiry a day away (later than `created + lifetime` for part of the second day: the
      // bench's choice, so that both layouts remove exactly the oldest day).
      await admin.query(
        `INSERT INTO ${names.qualified} (sid, sess, expire, created)
SELECT ${storedId('g')}, $1::json,
  CASE WHEN c < to_timestamp($2::float8 + 86400) THEN c + make_interval(secs => $3::float8)
       ELSE now() + interval '1 day' + random() * interval '60 seconds' END,
  c
FROM generate_series($4::int, $5::int) AS g,
  LATERAL (SELECT to_timestamp($2::float8 + (g - 0.5) * $6::float8) AS c) AS made`,
        [sess, firstDay, lifetimeSeconds, from, to, (days * DAY) / rows],
      );
    }
    const key = layout === 'plain' ? '"sid"' : '"sid", "created"';
    await admin.query(`ALTER TABLE ${names.qualified} ADD CONSTRAINT ${names.primaryKey} PRIMARY KEY (${key})`);
    await admin.query(`CREATE INDEX ${names.expireIndex} ON ${names.qualified} ("expire")`);
    await admin.query(`VACUUM ANALYZE ${names.qualified}`);
    // A partitioned table is vacuumed through its partitions; they are analyzed by the line above.
    return { table, seconds: (performance.now() - t0) / 1000 };
  };

  const expiredDay = Math.round(rows / days);
  const liveFrom = Math.ceil((2 * rows) / days) + 1;
  const loadedIds = Array.from(
    { length: Math.min(LOADED_SESSIONS, rows - liveFrom) },
    () => `s${liveFrom + Math.floor(Math.random() * (rows - liveFrom))}`,
  );

  const Store = oursStoreClass();
  const runs: LayoutRun[] = [];
  for (const layout of ['plain', 'partitioned'] as const) {
    const { table, seconds: fillSeconds } = await fill(layout);
    log(
      `  ${layout}: ${rows.toLocaleString('en-US')} sessions over ${days} days filled, indexed and vacuumed in ${fillSeconds.toFixed(1)} s`,
    );
    const before = await figures(admin, settings.schema, table);
    const loadPool = newPgPool(settings);
    const appStore = new Store({
      pool: loadPool,
      schemaName: settings.schema,
      tableName: table,
      absoluteTimeout: lifetimeSeconds,
      pruneSessionInterval: false,
    });
    const measure = timedCycleLoad(callbackStore(appStore), loadedIds, concurrency);
    const load = async (durationMs: number, until?: Promise<unknown>): Promise<LatencySummary> => {
      const { cycles, gets } = await measure(durationMs, until);
      return {
        cyclesPerSec: cycles.opsPerSec,
        getP50Ms: gets.percentile(50),
        getP99Ms: gets.percentile(99),
        getMaxMs: gets.max,
        errors: cycles.errors,
      };
    };
    try {
      const baseline = await load(baselineMs);
      const statements = new Histogram();
      const prunePool = newPgPool(settings, 1);
      const pruner = new Store({
        pool: timedPool(prunePool, (_text, ms) => statements.record(ms)),
        schemaName: settings.schema,
        tableName: table,
        absoluteTimeout: lifetimeSeconds,
        pruneSessionInterval: false,
      });
      const started = performance.now();
      let pruneSeconds = 0;
      const pruned = pruner.pruneSessions().then((n: number) => {
        pruneSeconds = (performance.now() - started) / 1000;
        return n;
      });
      const during = await load(settings.partitions.maxMs, Promise.all([pruned, sleep(minWindowMs)]));
      const count = await pruned;
      await pruner.close();
      await prunePool.end();
      // The statistics of the prune's connection reach pg_stat_user_tables once it has been idle a while.
      await sleep(12_000);
      const after = await figures(admin, settings.schema, table);
      const run: LayoutRun = {
        layout,
        fillSeconds,
        pruned: count,
        pruneSeconds,
        statements: statements.count,
        statementMaxMs: statements.max,
        baseline,
        during,
        getP99Ratio: during.getP99Ms / baseline.getP99Ms,
        before,
        after,
      };
      runs.push(run);
      log(
        `  ${layout}: pruned ${count.toLocaleString('en-US')} sessions in ${pruneSeconds.toFixed(2)} s (${run.statements} statements, slowest ${run.statementMaxMs.toFixed(1)} ms); get p99 ${baseline.getP99Ms.toFixed(2)} → ${during.getP99Ms.toFixed(2)} ms (${run.getP99Ratio.toFixed(2)}×), max ${during.getMaxMs.toFixed(1)} ms; size ${mb(before.totalBytes)} → ${mb(after.totalBytes)} MB, dead row versions ${after.deadTuples.toLocaleString('en-US')}; errors ${baseline.errors + during.errors}`,
      );
    } finally {
      await appStore.close();
      await loadPool.end();
    }
    // Room on the disk for the next layout.
    await admin.query(`DROP TABLE ${admin.qualified(table)}`);
  }
  const getByPartitions = await measureGetByPartitions(env, log);
  return { rows, days, expiredDay, runs, getByPartitions };
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(0);

/** Size (with indexes and TOAST), live and dead row versions: the table's, or its partitions' summed. */
async function figures(admin: BenchEnv['admin'], schema: string, table: string): Promise<TableFigures> {
  const [row] = await admin.query(
    `SELECT sum(pg_total_relation_size(t.relid))::float8 AS total_bytes,
  coalesce(sum(s.n_live_tup), 0)::float8 AS live, coalesce(sum(s.n_dead_tup), 0)::float8 AS dead
FROM (
  SELECT relid FROM pg_partition_tree($1::regclass) WHERE isleaf
  UNION SELECT $1::regclass WHERE (SELECT relkind FROM pg_class WHERE oid = $1::regclass) <> 'p'
) AS t LEFT JOIN pg_stat_user_tables s ON s.relid = t.relid`,
    [sql.tableNames(table, schema).qualified],
  );
  return { totalBytes: Number(row.total_bytes), liveTuples: Number(row.live), deadTuples: Number(row.dead) };
}

/**
 * What the layout costs a `get`: no index keeps `sid` unique across partitions, so a lookup probes
 * each partition a session may still live in. One caller, gets of live sessions, by the number of
 * partitions probed (0: a plain table of as many rows).
 */
async function measureGetByPartitions(env: BenchEnv, log: (line: string) => void): Promise<GetByPartitions[]> {
  const { settings, admin } = env;
  const rowsPerPartition = 2000;
  const results: GetByPartitions[] = [];
  const Store = oursStoreClass();
  for (const pastDays of [0, 1, 4, 16, 64]) {
    const table = `probe_${pastDays}`;
    const names = sql.tableNames(table, settings.schema);
    const plain = pastDays === 0;
    const lifetimeSeconds = Math.max(1, pastDays) * DAY + DAY;
    const partitioning = plain ? undefined : { widthSeconds: DAY, lifetimeSeconds };
    for (const statement of ddl.createTableStatements(names, { partitioning })) await admin.query(statement);
    const [clock] = await admin.query(
      `SELECT extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'UTC'))::float8 AS today`,
    );
    for (let day = 1; day <= pastDays; day++) {
      const from = Number(clock.today) - day * DAY;
      await admin.query(partitions.createPartitionStatement(names, { from, to: from + DAY }));
    }
    // Created over today and the `pastDays` before it (the plain table: as many rows, all today).
    const rows = rowsPerPartition * (plain ? 17 : pastDays + 1);
    const spread = plain ? 1 : pastDays + 1;
    await admin.query(
      `INSERT INTO ${names.qualified} (sid, sess, expire, created)
SELECT ${storedId('g')}, '{"cookie":{}}', now() + interval '1 hour', to_timestamp($1::float8 - (g % $2::int) * 86400 - 1)
FROM generate_series(1, $3::int) AS g`,
      [Number(clock.today) + DAY, spread, rows],
    );
    await admin.query(`ANALYZE ${names.qualified}`);
    const [probed] = await admin.query(`SELECT count(*)::int AS n FROM pg_partition_tree($1::regclass) WHERE isleaf`, [
      names.qualified,
    ]);
    const pool = newPgPool(settings, 1);
    const store = callbackStore(
      new Store({
        pool,
        schemaName: settings.schema,
        tableName: table,
        absoluteTimeout: lifetimeSeconds,
        pruneSessionInterval: false,
      }),
    );
    const gets = new Histogram();
    const deadline = performance.now() + 4000;
    let i = 0;
    while (performance.now() < deadline) {
      const sid = `s${1 + (i++ % rows)}`;
      const t0 = performance.now();
      if ((await store.get(sid)) === null) throw new Error(`bench: ${sid} not found in ${table}`);
      if (i > 200) gets.record(performance.now() - t0);
    }
    await pool.end();
    const partitionsProbed = plain ? 0 : Number(probed.n);
    results.push({ partitions: partitionsProbed, rows, getP50Ms: gets.percentile(50), getP99Ms: gets.percentile(99) });
    log(
      `  get, ${plain ? 'plain table' : `${partitionsProbed} partitions`} (${rows.toLocaleString('en-US')} rows): p50 ${(gets.percentile(50) * 1000).toFixed(0)} µs, p99 ${(gets.percentile(99) * 1000).toFixed(0)} µs`,
    );
    await admin.query(`DROP TABLE ${names.qualified}`);
  }
  return results;
}
