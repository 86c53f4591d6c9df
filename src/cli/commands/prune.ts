import { DEFAULTS } from '../../options.js';
import { pruneSessions } from '../../prune-sessions.js';
import { partitioningProblem, type TableState } from '../../schema/ensure.js';
import type { MaintenanceResult, Partitioning } from '../../schema/partitions.js';
import { pruneBatchStatement, type TableNames } from '../../sql.js';
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
    const partitioning = partitioningOf(names, await requireTable(db, names));
    const pruneBatch = pruneBatchStatement(partitioning === undefined ? names.qualified : names.defaultPartition);
    const interruption = new Interruption(io);
    let deleted = 0;
    // The total is counted only for the progress line, which a terminal alone shows.
    const total = io.errIsTTY ? await expiredSessionCount(db, names) : 0;
    const startedAt = Date.now();
    const progress = new ProgressLine(
      io,
      () => `deleted ${progressOf(deleted, total, 'expired session', Date.now() - startedAt)}`,
    );
    let partitions: MaintenanceResult | undefined;
    try {
      ({ deleted, partitions } = await pruneSessions(db, names, pruneBatch, partitioning, {
        batchSize,
        // The partitions' upkeep under the prune lock, as a store pruning now takes it; the batches
        // without it: FOR UPDATE SKIP LOCKED already keeps them apart from stores pruning now.
        lock: { partitions: true, batches: false },
        stopRequested: () => interruption.stopRequested,
        onBatch: (soFar) => {
          deleted = soFar;
          progress.tick();
        },
      }));
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

/** How a partitioned table is cut (its partitions are dropped first); undefined for a plain table. */
function partitioningOf(names: TableNames, state: TableState): Partitioning | undefined {
  if (!state.partitioned) return undefined;
  // A partitioned table without its comment has no partitioning: the problem says what to add.
  if (state.partitioning === undefined) throw new OperationalError(partitioningProblem(names, state)!);
  return state.partitioning;
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
