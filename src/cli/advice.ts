import { SCHEMA_VERSION } from '../schema/ddl.js';
import type { PartitionStats, TableStats } from '../schema/stats.js';
import { count, duration, percent } from './format.js';

/** Expired sessions older than this mean no one prunes (stores prune every minute by default). */
const PRUNE_OVERDUE_SECONDS = 3600;
/** Dead row versions worth a word: this share of all (autovacuum starts near 17 % by default), and at least this many. */
const DEAD_RATIO_WARNING = 0.3;
const DEAD_TUPLES_WARNING = 1000;
/** A table this big should have been vacuumed and analyzed by now. */
const ROWS_FOR_MAINTENANCE = 10_000;

/**
 * Dead row versions are news only when a vacuum has run since they died: right after a prune
 * (by a store, or the CLI) they are many, and autovacuum removes them within a minute or so. The
 * statistics do not say when rows died, so the advice waits for a vacuum this recent that left
 * them behind.
 */
const VACUUM_RECENT_SECONDS = 600;

function secondsSinceLastVacuum(stats: TableStats): number | undefined {
  const last = Math.max(stats.lastVacuum ?? Number.NEGATIVE_INFINITY, stats.lastAutovacuum ?? Number.NEGATIVE_INFINITY);
  return Number.isFinite(last) ? Math.max(0, stats.now - last) : undefined;
}

export function deadTupleRatio(stats: TableStats): number {
  const all = stats.liveTuples + stats.deadTuples;
  return all === 0 ? 0 : stats.deadTuples / all;
}

/** Short lines on what looks wrong, and what to do about it. */
export function adviceFor(stats: TableStats): string[] {
  const advice: string[] = [];
  const t = stats.table;
  if (stats.version === 0) {
    advice.push(
      'schema version 0 (a table from connect-pg-simple 10.x, or made by hand): upgrade it with `connect-pg-simple migrate` (try --dry-run first)',
    );
  } else if (stats.version < SCHEMA_VERSION) {
    advice.push(`schema version ${stats.version} is older than ${SCHEMA_VERSION}: run \`connect-pg-simple migrate\``);
  } else if (stats.version > SCHEMA_VERSION) {
    advice.push(
      `schema version ${stats.version} is newer than this tool knows (${SCHEMA_VERSION}): upgrade connect-pg-simple`,
    );
  }
  const overdue = stats.oldestExpiredAgeSeconds;
  // Partitioned, expired rows wait for their partition's drop: partitionAdvice says when that is late.
  if (
    stats.partitions === undefined &&
    stats.expiredSessions > 0 &&
    overdue !== null &&
    overdue > PRUNE_OVERDUE_SECONDS
  ) {
    advice.push(
      `${count(stats.expiredSessions)} expired sessions, the oldest expired ${duration(overdue)} ago: pruning is not running (no store runs, or all have pruneSessionInterval: false); schedule \`connect-pg-simple prune\`, or the SQL function from \`connect-pg-simple schema --prune-function\` with pg_cron`,
    );
  }
  const ratio = deadTupleRatio(stats);
  const lastVacuumAge = secondsSinceLastVacuum(stats);
  if (
    ratio >= DEAD_RATIO_WARNING &&
    stats.deadTuples >= DEAD_TUPLES_WARNING &&
    lastVacuumAge !== undefined &&
    lastVacuumAge <= VACUUM_RECENT_SECONDS
  ) {
    advice.push(
      `${percent(ratio)} of the row versions are dead though the table was vacuumed ${duration(lastVacuumAge)} ago: a long-running transaction (or a replication slot, or a prepared transaction) may keep them, see pg_stat_activity; if they come back faster than autovacuum removes them, vacuum sooner with ALTER TABLE ${t} SET (autovacuum_vacuum_scale_factor = 0.02)`,
    );
  }
  if (stats.storageOptions.includes('autovacuum_enabled=false')) {
    advice.push(
      `autovacuum is turned off for this table: dead row versions pile up; turn it on with ALTER TABLE ${t} RESET (autovacuum_enabled)`,
    );
  }
  const rows = stats.liveTuples + stats.deadTuples;
  if (rows >= ROWS_FOR_MAINTENANCE && stats.lastVacuum === null && stats.lastAutovacuum === null) {
    advice.push('the table was never vacuumed: is autovacuum off (or were the statistics reset)?');
  }
  // Autovacuum analyzes partitions, never a partitioned table itself; the store's statements need only the partitions'.
  if (
    stats.partitions === undefined &&
    rows >= ROWS_FOR_MAINTENANCE &&
    stats.lastAnalyze === null &&
    stats.lastAutoanalyze === null
  ) {
    advice.push(`the table was never analyzed: run ANALYZE ${t}, and check that autovacuum is on`);
  }
  if (stats.partitions !== undefined) advice.push(...partitionAdvice(stats, stats.partitions));
  return advice;
}

/** A DEFAULT partition this big means partitions are not being created ahead. */
const DEFAULT_PARTITION_ROWS_WARNING = 10_000;

/** What looks wrong with a partitioned table's partitions. */
export function partitionAdvice(stats: TableStats, { partitioning, partitions }: PartitionStats): string[] {
  if (partitioning === undefined) {
    return [
      `the table is partitioned, but its "created" column's comment does not say how: stores refuse it until it does (see docs/scaling.md, "Very large tables")`,
    ];
  }
  const advice: string[] = [];
  const droppable = partitions.filter((p) => p.droppable);
  const overdue = droppable.filter(
    (p) => p.to !== null && stats.now - (p.to + partitioning.lifetimeSeconds) > PRUNE_OVERDUE_SECONDS,
  );
  if (overdue.length > 0) {
    advice.push(
      `${count(overdue.length)} partitions hold only dead sessions and should have been dropped over an hour ago: pruning is not running (no store runs, or all have pruneSessionInterval: false); schedule \`connect-pg-simple prune\``,
    );
  }
  const fallback = partitions.find((p) => p.isDefault);
  if (fallback !== undefined && fallback.rowEstimate >= DEFAULT_PARTITION_ROWS_WARNING) {
    advice.push(
      `the DEFAULT partition holds about ${count(fallback.rowEstimate)} sessions: partitions were not created ahead (they are, by every prune), so these rows are pruned by DELETE; check that pruning runs`,
    );
  }
  if (!partitions.some((p) => p.to !== null && p.to > stats.now)) {
    advice.push(
      'no partition covers the sessions created from now on: they go to the DEFAULT partition until a prune (a store, or `connect-pg-simple prune`) creates the next ones',
    );
  }
  return advice;
}
