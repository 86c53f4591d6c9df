import type { Database } from '../drivers/database.js';
import type { TableNames } from '../sql.js';
import { parseVersionComment } from './ddl.js';
import {
  isDroppable,
  type PartitionInfo,
  type Partitioning,
  parsePartitioningComment,
  readPartitions,
} from './partitions.js';

/** Seconds since the epoch, as PostgreSQL's clock has them; `null` for never. */
type Instant = number | null;

export interface TableStats {
  readonly table: string;
  readonly version: number;
  /** The database's clock when the figures were read. */
  readonly now: number;
  readonly liveSessions: number;
  readonly expiredSessions: number;
  /** Seconds since the longest-expired session expired; `null` when none has. */
  readonly oldestExpiredAgeSeconds: number | null;
  readonly tableBytes: number;
  readonly indexBytes: number;
  /** The table's storage parameters, such as `fillfactor=90`. */
  readonly storageOptions: readonly string[];
  /** From pg_stat_user_tables: estimates, as of the statistics' last update. */
  readonly liveTuples: number;
  readonly deadTuples: number;
  readonly lastVacuum: Instant;
  readonly lastAutovacuum: Instant;
  readonly lastAnalyze: Instant;
  readonly lastAutoanalyze: Instant;
  /**
   * `true` when the session counts are the planner's estimates (from the statistics of the last
   * ANALYZE), as for a table of more than EXACT_COUNT_LIMIT rows unless asked to count; then
   * `oldestExpiredAgeSeconds` is still exact (read from the expire index).
   */
  readonly countsEstimated: boolean;
  /** The partitioned layout's partitions; undefined for a plain table. */
  readonly partitions: PartitionStats | undefined;
}

/** A partitioned table's layout and partitions, for `stats`. */
export interface PartitionStats {
  /** As its `created` column's comment says; undefined when it says nothing. */
  readonly partitioning: Partitioning | undefined;
  readonly partitions: ReadonlyArray<PartitionInfo & { readonly droppable: boolean }>;
}

/** Above this many rows (by the planner's estimate), `stats` estimates the counts instead of reading every row. */
export const EXACT_COUNT_LIMIT = 1_000_000;

const epoch = (column: string) => `extract(epoch FROM ${column})::float8`;

const catalogQuery = `SELECT ${epoch('now()')} AS now,
  obj_description(c.oid, 'pg_class') AS comment,
  c.relkind::text AS kind,
  CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE coalesce(s.n_live_tup, 0) END::float8 AS row_estimate,
  col_description(c.oid, (SELECT attnum FROM pg_attribute WHERE attrelid = c.oid AND attname = 'created' AND NOT attisdropped)::int) AS created_comment,
  pg_table_size(c.oid)::float8 AS table_bytes,
  pg_indexes_size(c.oid)::float8 AS index_bytes,
  coalesce(c.reloptions, '{}')::text[] AS options,
  coalesce(s.n_live_tup, 0)::float8 AS live_tuples,
  coalesce(s.n_dead_tup, 0)::float8 AS dead_tuples,
  ${epoch('s.last_vacuum')} AS last_vacuum,
  ${epoch('s.last_autovacuum')} AS last_autovacuum,
  ${epoch('s.last_analyze')} AS last_analyze,
  ${epoch('s.last_autoanalyze')} AS last_autoanalyze
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = to_regclass($1::text)`;

const countQuery = (t: string) => `SELECT count(*) FILTER (WHERE expire > now())::float8 AS live,
  count(*) FILTER (WHERE expire <= now())::float8 AS expired,
  ${epoch('now() - min(expire)')} AS oldest_age
FROM ${t}`;

/** The oldest expiry: one step down the expire index. */
const oldestQuery = (t: string) => `SELECT ${epoch('now() - min(expire)')} AS oldest_age FROM ${t}`;

/** The planner's estimate of the rows `condition` selects, from the statistics of the last ANALYZE. */
async function plannedRows(db: Database, t: string, condition: string): Promise<number> {
  const [row] = await db.query({ name: '', text: `EXPLAIN (FORMAT JSON) SELECT FROM ${t} WHERE ${condition}` }, []);
  const plan = row?.['QUERY PLAN'];
  const parsed = (typeof plan === 'string' ? JSON.parse(plan) : plan) as Array<{ Plan?: { 'Plan Rows'?: number } }>;
  return Number(parsed?.[0]?.Plan?.['Plan Rows'] ?? 0);
}

interface SessionCounts {
  readonly live: number;
  readonly expired: number;
  readonly oldestAge: Instant;
  readonly estimated: boolean;
}

/** Live and expired sessions: counted, or (above EXACT_COUNT_LIMIT rows, unless `exact`) estimated. */
async function readSessionCounts(db: Database, t: string, exact: boolean): Promise<SessionCounts> {
  if (exact) {
    const [counts] = await db.query({ name: '', text: countQuery(t) }, []);
    return {
      live: Number(counts?.live ?? 0),
      expired: Number(counts?.expired ?? 0),
      oldestAge: instant(counts?.oldest_age),
      estimated: false,
    };
  }
  const [oldest] = await db.query({ name: '', text: oldestQuery(t) }, []);
  return {
    live: await plannedRows(db, t, 'expire > now()'),
    expired: await plannedRows(db, t, 'expire <= now()'),
    oldestAge: instant(oldest?.oldest_age),
    estimated: true,
  };
}

/** A partitioned table's partitions, and its figures summed over them (a partitioned table has no storage of its own). */
async function readPartitionStats(db: Database, names: TableNames, createdComment: unknown) {
  const partitioning = parsePartitioningComment(createdComment as string | null | undefined);
  const { now, partitions } = await readPartitions(db, names);
  const sum = (pick: (p: PartitionInfo) => number) => partitions.reduce((total, p) => total + pick(p), 0);
  const latest = (pick: (p: PartitionInfo) => Instant) =>
    partitions.reduce<Instant>((last, p) => {
      const at = pick(p);
      return at !== null && (last === null || at > last) ? at : last;
    }, null);
  return {
    partitions: {
      partitioning,
      partitions: partitions.map((p) => ({
        ...p,
        droppable: partitioning !== undefined && isDroppable(p, partitioning, now),
      })),
    } satisfies PartitionStats,
    rowEstimate: sum((p) => p.rowEstimate),
    tableBytes: sum((p) => p.tableBytes),
    indexBytes: sum((p) => p.indexBytes),
    deadTuples: sum((p) => p.deadTuples),
    lastVacuum: latest((p) => p.lastVacuum),
    lastAutovacuum: latest((p) => p.lastAutovacuum),
  };
}

const instant = (value: unknown): Instant => (value === null || value === undefined ? null : Number(value));

/**
 * The table's figures, or `undefined` when it does not exist. Counting reads the whole table:
 * above EXACT_COUNT_LIMIT rows the counts are estimated instead, unless `exact`.
 */
export async function readTableStats(
  db: Database,
  names: TableNames,
  { exact = false, countLimit = EXACT_COUNT_LIMIT }: { exact?: boolean; countLimit?: number } = {},
): Promise<TableStats | undefined> {
  const [catalog] = await db.query({ name: '', text: catalogQuery }, [names.qualified]);
  if (catalog === undefined) return undefined;
  const partitioned = catalog.kind === 'p' ? await readPartitionStats(db, names, catalog.created_comment) : undefined;
  const rowEstimate = partitioned?.rowEstimate ?? Number(catalog.row_estimate);
  const counts = await readSessionCounts(db, names.qualified, exact || rowEstimate <= countLimit);
  const oldestAge = counts.oldestAge;
  return {
    table: names.qualified,
    version: parseVersionComment(catalog.comment as string | null),
    now: Number(catalog.now),
    liveSessions: counts.live,
    expiredSessions: counts.expired,
    oldestExpiredAgeSeconds: oldestAge !== null && oldestAge >= 0 ? oldestAge : null,
    tableBytes: partitioned?.tableBytes ?? Number(catalog.table_bytes),
    indexBytes: partitioned?.indexBytes ?? Number(catalog.index_bytes),
    storageOptions: (catalog.options as string[] | null) ?? [],
    liveTuples: partitioned?.rowEstimate ?? Number(catalog.live_tuples),
    deadTuples: partitioned?.deadTuples ?? Number(catalog.dead_tuples),
    lastVacuum: partitioned === undefined ? instant(catalog.last_vacuum) : partitioned.lastVacuum,
    lastAutovacuum: partitioned === undefined ? instant(catalog.last_autovacuum) : partitioned.lastAutovacuum,
    lastAnalyze: instant(catalog.last_analyze),
    lastAutoanalyze: instant(catalog.last_autoanalyze),
    countsEstimated: counts.estimated,
    partitions: partitioned?.partitions,
  };
}
