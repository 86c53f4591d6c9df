import type { Database } from '../drivers/database.js';
import {
  doBlock,
  PRUNE_LOCK_NAMESPACE,
  quoteLiteral,
  saysTrue,
  siblingName,
  type TableNames,
  yesOrNo,
} from '../sql.js';
import type { Deadline } from '../time-limit.js';

/**
 * The opt-in partitioned layout, for tables of tens of millions of sessions: the table is
 * partitioned by range of `created`, one partition per `widthSeconds` (aligned to the epoch, in
 * UTC), plus a DEFAULT partition that takes any row no other partition covers, so an insert never
 * fails. `created` never changes for a row, so rows never move between partitions; and a session
 * lives at most `lifetimeSeconds` after its creation (an absolute timeout), so a partition whose
 * end lies that far in the past holds only dead sessions and is dropped whole: no DELETE, no dead
 * row versions, no vacuum.
 */
export interface Partitioning {
  /** The span of creation times each partition holds, in seconds (a whole number of days). */
  readonly widthSeconds: number;
  /** How long a session lives at most after its creation, in seconds: the absolute timeout. */
  readonly lifetimeSeconds: number;
}

export const ONE_DAY_SECONDS = 86_400;

/** Partitions kept ready beyond the current one, so that a pruner missing for a while costs nothing. */
export const PARTITIONS_AHEAD = 3;

/** Longest an operation on the layout waits for the table's lock before it gives up (and retries at the next prune). */
const DDL_LOCK_TIMEOUT = '500ms';

/** The `created` column's comment on a partitioned table: how it is cut, for every store and the CLI. */
export const PARTITIONING_MARK = 'connect-pg-simple partitions: ';

export function partitioningComment({ widthSeconds, lifetimeSeconds }: Partitioning): string {
  return `${PARTITIONING_MARK}${widthSeconds} s each, sessions end ${lifetimeSeconds} s after creation`;
}

/** The layout a `created` column's comment records; undefined when it records none. */
export function parsePartitioningComment(comment: string | null | undefined): Partitioning | undefined {
  if (!comment?.startsWith(PARTITIONING_MARK)) return undefined;
  const match = /^(\d+) s each, sessions end (\d+(?:\.\d+)?) s after creation$/.exec(
    comment.slice(PARTITIONING_MARK.length).trim(),
  );
  if (match === null) return undefined;
  const widthSeconds = Number(match[1]);
  const lifetimeSeconds = Number(match[2]);
  return widthSeconds > 0 && lifetimeSeconds > 0 ? { widthSeconds, lifetimeSeconds } : undefined;
}

/** A range of creation times, in seconds since the epoch: `[from, to)`. */
export interface CreationRange {
  readonly from: number;
  readonly to: number;
}

/** `"schema"."table_p20261201"`: a partition's name, by the UTC day its range starts on. */
export function partitionName(names: TableNames, from: number): string {
  const day = new Date(from * 1000).toISOString().slice(0, 10).replaceAll('-', '');
  return siblingName(names, `p${day}`);
}

/** The ranges that should exist at `now`: the current one and PARTITIONS_AHEAD after it. */
export function wantedRanges(widthSeconds: number, now: number): CreationRange[] {
  const start = Math.floor(now / widthSeconds) * widthSeconds;
  return Array.from({ length: PARTITIONS_AHEAD + 1 }, (_, i) => ({
    from: start + i * widthSeconds,
    to: start + (i + 1) * widthSeconds,
  }));
}

const timestampLiteral = (seconds: number) => quoteLiteral(new Date(seconds * 1000).toISOString());

/** Creates one partition; `ifNotExists` for a run that may race another. */
export function createPartitionStatement(names: TableNames, range: CreationRange, ifNotExists = false): string {
  return `CREATE TABLE ${ifNotExists ? 'IF NOT EXISTS ' : ''}${partitionName(names, range.from)} PARTITION OF ${names.qualified} FOR VALUES FROM (${timestampLiteral(range.from)}) TO (${timestampLiteral(range.to)}) WITH (fillfactor = 90)`;
}

/** The DEFAULT partition and the partitions of `wantedRanges` at `now`, for a new table. */
export function initialPartitionStatements(names: TableNames, partitioning: Partitioning, now: number): string[] {
  return [
    `CREATE TABLE ${names.defaultPartition} PARTITION OF ${names.qualified} DEFAULT WITH (fillfactor = 90)`,
    ...wantedRanges(partitioning.widthSeconds, now).map((range) => createPartitionStatement(names, range)),
  ];
}

/** Seconds since the epoch, as PostgreSQL's clock has them; `null` for never. */
type Instant = number | null;

/** One partition of the table, from the catalog and the statistics. */
export interface PartitionInfo {
  /** Qualified and quoted, as SQL names it. */
  readonly name: string;
  readonly isDefault: boolean;
  /** Its range of creation times, in seconds since the epoch; null for the DEFAULT partition. */
  readonly from: number | null;
  readonly to: number | null;
  /** The planner's estimate of its rows (pg_class.reltuples; before the first ANALYZE, the statistics' live rows). */
  readonly rowEstimate: number;
  readonly deadTuples: number;
  readonly tableBytes: number;
  readonly indexBytes: number;
  readonly lastVacuum: Instant;
  readonly lastAutovacuum: Instant;
}

export interface PartitionList {
  /** The database's clock, in seconds since the epoch. */
  readonly now: number;
  readonly partitions: readonly PartitionInfo[];
}

const epoch = (column: string) => `extract(epoch FROM ${column})::float8`;
/** A bound of `pg_get_expr(relpartbound)`, such as `FOR VALUES FROM ('…') TO ('…')`, read back as an instant. */
const bound = (keyword: string) =>
  `${epoch(`substring(p.bound from $re$${keyword} \\('([^']+)'\\)$re$)::timestamptz`)}`;

const partitionsQuery = `SELECT ${epoch('now()')} AS now, p.name, ${yesOrNo("p.bound = 'DEFAULT'")} AS is_default,
  ${bound('FROM')} AS range_from, ${bound('TO')} AS range_to,
  CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE coalesce(s.n_live_tup, 0) END::float8 AS row_estimate,
  coalesce(s.n_dead_tup, 0)::float8 AS dead_tuples,
  pg_table_size(c.oid)::float8 AS table_bytes, pg_indexes_size(c.oid)::float8 AS index_bytes,
  ${epoch('s.last_vacuum')} AS last_vacuum, ${epoch('s.last_autovacuum')} AS last_autovacuum
FROM (SELECT) AS clock
LEFT JOIN (
  SELECT i.inhrelid AS oid, format('%I.%I', n.nspname, k.relname) AS name, pg_get_expr(k.relpartbound, k.oid) AS bound
  FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid JOIN pg_namespace n ON n.oid = k.relnamespace
  WHERE i.inhparent = to_regclass($1::text)
) AS p ON true
LEFT JOIN pg_class c ON c.oid = p.oid
LEFT JOIN pg_stat_user_tables s ON s.relid = p.oid
ORDER BY range_from NULLS FIRST`;

const instant = (value: unknown): Instant => (value === null || value === undefined ? null : Number(value));

/** The table's partitions, oldest range first (the DEFAULT one before them), with the database's clock. */
export async function readPartitions(db: Database, names: TableNames, deadline?: Deadline): Promise<PartitionList> {
  const rows = await db.query({ name: '', text: partitionsQuery }, [names.qualified], deadline);
  const partitions = rows
    .filter((row) => typeof row.name === 'string')
    .map(
      (row): PartitionInfo => ({
        name: row.name as string,
        isDefault: saysTrue(row.is_default),
        from: instant(row.range_from),
        to: instant(row.range_to),
        rowEstimate: Number(row.row_estimate),
        deadTuples: Number(row.dead_tuples),
        tableBytes: Number(row.table_bytes),
        indexBytes: Number(row.index_bytes),
        lastVacuum: instant(row.last_vacuum),
        lastAutovacuum: instant(row.last_autovacuum),
      }),
    );
  return { now: Number(rows[0]?.now), partitions };
}

/** Does the partition hold only sessions past their absolute lifetime at `now`? */
export function isDroppable(partition: PartitionInfo, { lifetimeSeconds }: Partitioning, now: number): boolean {
  return !partition.isDefault && partition.to !== null && partition.to + lifetimeSeconds <= now;
}

export interface MaintenancePlan {
  readonly drop: readonly PartitionInfo[];
  readonly create: readonly CreationRange[];
}

/** What maintenance does at `now`: drop the partitions of dead sessions, create the ranges missing. */
export function maintenancePlan(list: PartitionList, partitioning: Partitioning): MaintenancePlan {
  const { now, partitions } = list;
  const ranged = partitions.filter((p) => p.from !== null && p.to !== null);
  const overlapsOne = (range: CreationRange) =>
    ranged.some((p) => (p.from as number) < range.to && (p.to as number) > range.from);
  return {
    drop: partitions.filter((p) => isDroppable(p, partitioning, now)),
    create: wantedRanges(partitioning.widthSeconds, now).filter((range) => !overlapsOne(range)),
  };
}

/**
 * One DO block for the plan, under the prune lock when `lock` (another process holding it is doing
 * this work now). A range whose rows the DEFAULT partition already holds cannot get a partition
 * (PostgreSQL refuses, 23514): it is skipped, and those rows are pruned by DELETE from the DEFAULT
 * partition. Dropping or creating a partition locks the whole table for an instant: the lock is
 * waited for at most DDL_LOCK_TIMEOUT, then the prune fails and the next one tries again.
 */
export function maintenanceStatement(names: TableNames, plan: MaintenancePlan, lock: boolean): string {
  const lines = [`  PERFORM set_config('lock_timeout', ${quoteLiteral(DDL_LOCK_TIMEOUT)}, true);`];
  if (lock) {
    lines.push(
      `  IF NOT pg_try_advisory_xact_lock(${PRUNE_LOCK_NAMESPACE}, to_regclass(${quoteLiteral(names.qualified)})::oid::int) THEN RETURN; END IF;`,
    );
  }
  for (const partition of plan.drop) lines.push(`  DROP TABLE IF EXISTS ${partition.name};`);
  for (const range of plan.create) {
    lines.push(`  BEGIN
    ${createPartitionStatement(names, range, true)};
  EXCEPTION WHEN check_violation OR invalid_object_definition THEN NULL;
  END;`);
  }
  return doBlock(lines.join('\n'));
}

export interface MaintenanceResult {
  /** The partitions dropped. */
  readonly dropped: readonly PartitionInfo[];
  /** Their rows, as the planner's statistics estimated them (counting would read them all). */
  readonly droppedRowEstimate: number;
  readonly created: number;
}

/**
 * Drops the partitions of dead sessions and creates the ones soon needed. `lock`: under the prune
 * lock (skipped when another process holds it).
 */
export async function maintainPartitions(
  db: Database,
  names: TableNames,
  partitioning: Partitioning,
  { lock, deadline }: { lock: boolean; deadline?: Deadline | undefined },
): Promise<MaintenanceResult> {
  const before = await readPartitions(db, names, deadline);
  const plan = maintenancePlan(before, partitioning);
  if (plan.drop.length === 0 && plan.create.length === 0) return { dropped: [], droppedRowEstimate: 0, created: 0 };
  if (deadline?.expired !== undefined) throw deadline.expired;
  await db.query({ name: '', text: maintenanceStatement(names, plan, lock) }, [], deadline);
  const after = await readPartitions(db, names, deadline);
  const remaining = new Set(after.partitions.map((p) => p.name));
  const dropped = plan.drop.filter((p) => !remaining.has(p.name));
  return {
    dropped,
    droppedRowEstimate: dropped.reduce((sum, p) => sum + Math.max(0, p.rowEstimate), 0),
    created: after.partitions.length - (before.partitions.length - dropped.length),
  };
}
