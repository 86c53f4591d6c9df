import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Database } from '../../drivers/database.js';
import { DEFAULTS } from '../../options.js';
import { partitioningProblem, type TableState } from '../../schema/ensure.js';
import { type MaintenanceResult, maintainPartitions } from '../../schema/partitions.js';
import { PRUNE_FROM_START, storeStatements, type TableNames } from '../../sql.js';
import { type CommandLine, integerOption } from '../args.js';
import { Interruption, ProgressLine } from '../batches.js';
import { EXIT_INTERRUPTED, EXIT_OK, OperationalError } from '../errors.js';
import { count, countOf, progressOf } from '../format.js';
import type { Runner } from '../io.js';
import { expiredSessionCount } from '../queries.js';
import { requireTable } from './require-table.js';

const MAX_BATCH_SIZE = 1_000_000;
export function pruneCommand(line: CommandLine, names: TableNames): Runner {
  const batchSize = integerOption(line, 'batch-size', {
    fallback: DEFAULTS.pruneBatchSize,
    min: 1,
    max: MAX_BATCH_SIZE,
  });
  const json = line.options.json === true;
  return async (maybeDb, io) => {
    const db = maybeDb!;
    const partitions = await dropExpiredPartitions(db, names, await requireTable(db, names));
    const { pruneBatch } = storeStatements(names, { partitioned: partitions !== undefined });
    const interruption = new Interruption(io);
    let deleted = 0;
    // The total is counted only for the progress line, which a terminal alone shows.
    const total = io.errIsTTY ? await expiredSessionCount(db, names) : 0;
    const startedAt = Date.now();
    const progress = new ProgressLine(
      io,
      () => `deleted ${progressOf(deleted, total, 'expired session', Date.now() - startedAt)}`,
    );
    let from = PRUNE_FROM_START;
    try {
      for (;;) {
        // No prune lock ($3 false): FOR UPDATE SKIP LOCKED already keeps this apart from stores pruning now.
        const [row] = await db.query(pruneBatch, [batchSize, names.qualified, false, from]);
        const batch = Number(row?.deleted ?? 0);
        if (typeof row?.upto === 'string') from = row.upto;
        deleted += batch;
        progress.tick();
        if (batch < batchSize || interruption.stopRequested) break;
        await nextTurn();
      }
    } finally {
      interruption.end();
      progress.finish();
    }
    const interrupted = interruption.stopRequested;
    if (json)
      io.out(`${JSON.stringify({ table: names.qualified, deleted, interrupted, ...droppedAsJson(partitions) })}\n`);
    else {
      if (partitions !== undefined) io.out(droppedAsText(partitions));
      io.out(
        `deleted ${countOf(deleted, 'expired session')} from ${partitions === undefined ? names.qualified : `its DEFAULT partition`}${interrupted ? ' (interrupted)' : ''}\n`,
      );
    }
    return interrupted ? EXIT_INTERRUPTED : EXIT_OK;
  };
}

/**
 * On a partitioned table: drops the partitions of dead sessions and creates the next ones, under
 * the prune lock (a store pruning now does the same); undefined for a plain table.
 */
async function dropExpiredPartitions(
  db: Database,
  names: TableNames,
  state: TableState,
): Promise<MaintenanceResult | undefined> {
  if (!state.partitioned) return undefined;
  // A partitioned table without its comment has no partitioning: the problem says what to add.
  if (state.partitioning === undefined) throw new OperationalError(partitioningProblem(names, state)!);
  return maintainPartitions(db, names, state.partitioning, { lock: true });
}

function droppedAsJson(result: MaintenanceResult | undefined) {
  if (result === undefined) return {};
  return {
    droppedPartitions: result.dropped.map((p) => p.name),
    droppedRowEstimate: result.droppedRowEstimate,
    createdPartitions: result.created,
  };
}

function droppedAsText(result: MaintenanceResult): string {
  const created = result.created === 0 ? '' : `, created ${count(result.created)} for the days ahead`;
  if (result.dropped.length === 0) return `dropped no partition (none holds only dead sessions yet)${created}\n`;
  const names = result.dropped.map((p) => p.name).join(', ');
  return `dropped ${countOf(result.dropped.length, 'partition')} of dead sessions (${names}: about ${countOf(result.droppedRowEstimate, 'session')}, by the planner's estimate)${created}\n`;
}
