/** What a run does and how long each part takes: `npm run bench -- [sections…] [--quick]`. */

export const SECTIONS = ['cycle', 'micro', 'http', 'memory', 'prune', 'partitions'] as const;
export type Section = (typeof SECTIONS)[number];

/** What `npm run bench` runs without naming sections: everything but the slow prune and partitions tests. */
const DEFAULT_SECTIONS: readonly Section[] = ['cycle', 'micro', 'http', 'memory'];

export interface Rounds {
  readonly warmupMs: number;
  /** Measured time in all, split over the rounds. */
  readonly durationMs: number;
  readonly rounds: number;
  /** Unmeasured time before each round's window. */
  readonly rewarmMs: number;
}

export interface Settings {
  readonly quick: boolean;
  readonly sections: ReadonlySet<Section>;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /**
   * Schema holding every table the bench makes (and the Redis key prefix), one per run so that
   * two runs at once on one server cannot drop each other's tables; dropped at the end.
   */
  readonly schema: string;
  readonly poolSize: number;
  /**
   * Contenders take turns: after one warmup each, `rounds` windows of `durationMs / rounds` each
   * (with a short re-warmup), so that a noisy neighbour slows every contender alike.
   */
  readonly cycle: Rounds & { concurrency: number; sessions: number; writeShare: number };
  readonly micro: Rounds & { concurrency: number };
  readonly http: Rounds & { connections: number; writeShare: number };
  readonly memory: { operations: number; warmupOperations: number; sessions: number; concurrency: number };
  readonly prune: {
    expired: number;
    live: number;
    batchSizes: readonly number[];
    baselineMs: number;
    /** A prune still running after this long is stopped and reported as not finished. */
    maxMs: number;
    concurrency: number;
  };
  /** Issue 17: a plain and a partitioned table of `rows` sessions created over `days` days, each pruned of its oldest day. */
  readonly partitions: {
    rows: number;
    days: number;
    baselineMs: number;
    /** The load runs at least this long from the prune's start (a partition drop is over in a moment). */
    minWindowMs: number;
    maxMs: number;
    concurrency: number;
  };
}

export const USAGE = `usage: npm run bench -- [cycle] [micro] [http] [memory] [prune] [partitions] [all] [--quick] [--batch-sizes=1000,5000] [--prune-expired=N] [--prune-live=N] [--partition-rows=N] [--partition-days=N]
  no section: cycle micro http memory (prune and partitions are slow: name them, or say "all")
  --quick       a short smoke run (about a minute)
  --seconds=N   measure each contender N seconds (default 5), in windows of about a second: for comparing two builds
  --prune-expired, --prune-live   the prune test's table: expired and live sessions (default 1000000 and 100000;
                the time allowed for a prune grows with the expired count)
  --partition-rows, --partition-days   the partitions test's tables: sessions, and the days they were created over
                (default 10000000 and 10; the oldest day's are pruned, from a plain and from a partitioned table)
  env: BENCH_DATABASE_URL (default postgres://root@127.0.0.1:5432/test), BENCH_REDIS_URL (default redis://127.0.0.1:6379),
       BENCH_SCHEMA (default cps_bench_<pid>: the run's schema, dropped at the end),
       BENCH_BASELINE (a checkout of earlier code, dist/ built: adds "ours before" to the cycle, side by side;
       BENCH_BASELINE_PADDED=1 when it predates the exact idle timeout: its rows are seeded as it wrote them),
       BENCH_ONLY (contender ids for the cycle and the HTTP app, e.g. ours,ours-baseline: the others are skipped)`;

export function parseSettings(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Settings {
  let quick = false;
  let measuredSeconds: number | undefined;
  let batchSizes: number[] | undefined;
  const tableSize: { expired?: number; live?: number } = {};
  const partitionTable: { rows?: number; days?: number } = {};
  const named = new Set<Section>();
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg === 'all') for (const s of SECTIONS) named.add(s);
    else if ((SECTIONS as readonly string[]).includes(arg)) named.add(arg as Section);
    else if (arg.startsWith('--batch-sizes=')) {
      batchSizes = arg
        .slice('--batch-sizes='.length)
        .split(',')
        .map((s) => Number(s));
      if (batchSizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`bad ${arg}\n${USAGE}`);
    } else if (arg.startsWith('--seconds=')) {
      measuredSeconds = Number(arg.slice('--seconds='.length));
      if (!Number.isInteger(measuredSeconds) || measuredSeconds <= 0) throw new Error(`bad ${arg}\n${USAGE}`);
    } else if (/^--prune-(expired|live)=/.test(arg)) {
      const [flag, value] = arg.split('=') as [string, string];
      const count = Number(value);
      if (!Number.isInteger(count) || count <= 0) throw new Error(`bad ${arg}\n${USAGE}`);
      tableSize[flag === '--prune-expired' ? 'expired' : 'live'] = count;
    } else if (/^--partition-(rows|days)=/.test(arg)) {
      const [flag, value] = arg.split('=') as [string, string];
      const count = Number(value);
      if (!Number.isInteger(count) || count <= 0) throw new Error(`bad ${arg}\n${USAGE}`);
      partitionTable[flag === '--partition-rows' ? 'rows' : 'days'] = count;
    } else throw new Error(`unknown argument "${arg}"\n${USAGE}`);
  }
  const sections = named.size > 0 ? named : new Set(DEFAULT_SECTIONS);
  const seconds = (full: number, short: number) => (quick ? short : full) * 1000;
  const rounds: Rounds = {
    warmupMs: seconds(1, 0.4),
    durationMs: measuredSeconds === undefined ? seconds(5, 1.5) : measuredSeconds * 1000,
    // Windows of a second or more, turn and turn about: a long run evens out a noisy neighbour.
    rounds: measuredSeconds === undefined ? (quick ? 2 : 5) : Math.max(2, Math.min(measuredSeconds, 60)),
    rewarmMs: seconds(0.25, 0.15),
  };
  return {
    quick,
    sections,
    databaseUrl: env.BENCH_DATABASE_URL || 'postgres://root@127.0.0.1:5432/test',
    redisUrl: env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
    schema: env.BENCH_SCHEMA || `cps_bench_${process.pid}`,
    poolSize: 10,
    cycle: { ...rounds, concurrency: 64, sessions: 5000, writeShare: 0.1 },
    // Single calls are short and sensitive to neighbours: finer turns.
    micro: { ...rounds, rounds: quick ? 2 : 10, concurrency: 64 },
    http: { ...rounds, connections: 32, writeShare: 0.1 },
    memory: {
      operations: quick ? 60_000 : 1_000_000,
      warmupOperations: quick ? 20_000 : 100_000,
      sessions: 20_000,
      concurrency: 64,
    },
    prune: {
      expired: tableSize.expired ?? (quick ? 100_000 : 1_000_000),
      live: tableSize.live ?? (quick ? 10_000 : 100_000),
      batchSizes: batchSizes ?? (quick ? [1000] : [500, 1000, 5000]),
      baselineMs: seconds(5, 2),
      // 240 s per million expired rows (at least the default's), as a bound on a run, not a target.
      maxMs: seconds(240, 60) * Math.max(1, (tableSize.expired ?? 0) / 1_000_000),
      concurrency: 64,
    },
    partitions: {
      rows: partitionTable.rows ?? (quick ? 200_000 : 10_000_000),
      days: Math.max(3, partitionTable.days ?? 10),
      baselineMs: seconds(5, 2),
      minWindowMs: seconds(5, 2),
      maxMs: seconds(240, 60) * Math.max(1, (partitionTable.rows ?? 0) / 10_000_000),
      concurrency: 64,
    },
  };
}
