import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Database } from './drivers/database.js';
import { trimChangeLogStatement } from './schema/change-log.js';
import { type MaintenanceResult, maintainPartitions, type Partitioning } from './schema/partitions.js';
import { PRUNE_FROM_START, type Statement, saysTrue, type TableNames } from './sql.js';
import type { Deadline } from './time-limit.js';

/** How one prune runs: the store's timer and `prune()`, and `connect-pg-simple prune`, differ only in these. */
export interface PruneSettings {
  readonly batchSize: number;
  /**
   * The table's prune lock, so that one instance prunes at a time: another that holds it is doing
   * this work now. For the partitions' upkeep, its step is then skipped; for the batches, the
   * prune ends. Without it, FOR UPDATE SKIP LOCKED alone keeps concurrent batches apart.
   */
  readonly lock: { readonly partitions: boolean; readonly batches: boolean };
  /** Runs one step (a batch, or the partitions' upkeep) under the caller's time limit; none by default. */
  readonly step?: <T>(run: (deadline: Deadline | undefined) => Promise<T>) => Promise<T>;
  /** Asked after each batch: stop now (the store is closing, Ctrl-C). */
  readonly stopRequested?: () => boolean;
  /** Told after each batch, with the rows deleted so far. */
  readonly onBatch?: (deleted: number) => void;
  /**
   * The change log's trim (schema 4, see change-log.ts) goes below this xmin: the one the store's
   * previous prune returned, an interval old (null: nothing to trim yet). Left out (a one-off
   * prune: the CLI), the prune trims below the xmin it sees as it starts.
   */
  readonly changeLogXmin?: string | null;
}

export interface PruneResult {
  /** Expired rows deleted in batches (partitioned: from the DEFAULT partition). */
  readonly deleted: number;
  /** Partitioned: what the partitions' upkeep dropped and created first; undefined for a plain table. */
  readonly partitions: MaintenanceResult | undefined;
  /** The xmin seen as the change log was trimmed, for the next prune (null: the table has no log). */
  readonly changeLogXmin: string | null;
}

const untimed = <T>(run: (deadline: Deadline | undefined) => Promise<T>) => run(undefined);

/**
 * Deletes expired sessions in batches of `batchSize`, each starting where the last one stopped,
 * until a batch comes back short. On a partitioned table it first drops the partitions of dead
 * sessions and creates the next ones (see schema/partitions.ts); the rows of the live partitions
 * are left to their partition's drop, expired or not (deleting them would bring back the dead
 * row versions this layout is there to avoid), and the batches delete the DEFAULT partition's.
 */
export async function pruneSessions(
  db: Database,
  names: TableNames,
  pruneBatch: Statement,
  partitioning: Partitioning | undefined,
  { batchSize, lock, step = untimed, stopRequested = () => false, onBatch, changeLogXmin }: PruneSettings,
): Promise<PruneResult> {
  const trimBelow =
    changeLogXmin === undefined ? await step((deadline) => trimChangeLog(db, names, null, deadline)) : changeLogXmin;
  const partitions =
    partitioning === undefined
      ? undefined
      : await step((deadline) => maintainPartitions(db, names, partitioning, { lock: lock.partitions, deadline }));
  let deleted = 0;
  let from = PRUNE_FROM_START;
  for (;;) {
    const [row] = await step((deadline) => {
      if (deadline?.expired !== undefined) return Promise.reject(deadline.expired);
      return db.query(pruneBatch, [batchSize, names.qualified, lock.batches, from], deadline);
    });
    // Another instance holds the prune lock: it is doing this work now.
    if (row === undefined || !saysTrue(row.held)) break;
    const batch = Number(row.deleted);
    deleted += batch;
    if (typeof row.upto === 'string') from = row.upto;
    onBatch?.(deleted);
    if (batch < batchSize || stopRequested()) break;
    await nextTurn();
  }
  const nextXmin = await step((deadline) => trimChangeLog(db, names, trimBelow, deadline));
  return { deleted, partitions, changeLogXmin: nextXmin };
}

/**
 * The change log's rows below `below` deleted, with a mark for pollers that are older (none
 * deleted when null). → the xmin seen now; null where the table has no log (42P01: before
 * PostgreSQL 13, or a table not migrated) or the role may not touch it (42501): the stores that
 * poll it keep it short then, or nobody needs it.
 */
async function trimChangeLog(
  db: Database,
  names: TableNames,
  below: string | null,
  deadline: Deadline | undefined,
): Promise<string | null> {
  try {
    const [row] = await db.query(trimChangeLogStatement(names), [below], deadline);
    return typeof row?.xmin === 'string' ? row.xmin : null;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== '42P01' && code !== '42501') throw error;
    return null;
  }
}
