import { setImmediate as nextTurn } from 'node:timers/promises';
import { DEFAULTS } from '../../options.js';
import { PRUNE_FROM_START, storeStatements, type TableNames } from '../../sql.js';
import { type CommandLine, integerOption } from '../args.js';
import { EXIT_INTERRUPTED, EXIT_OK } from '../errors.js';
import { count } from '../format.js';
import type { Runner } from '../io.js';
import { requireTable } from './require-table.js';

const MAX_BATCH_SIZE = 1_000_000;
const PROGRESS_INTERVAL_MS = 200;

export function pruneCommand(line: CommandLine, names: TableNames): Runner {
  const batchSize = integerOption(line, 'batch-size', {
    fallback: DEFAULTS.pruneBatchSize,
    min: 1,
    max: MAX_BATCH_SIZE,
  });
  const json = line.options.json === true;
  const { pruneBatch } = storeStatements(names);
  return async (maybeDb, io) => {
    const db = maybeDb!;
    await requireTable(db, names);
    let interrupted = false;
    const onInterrupt = () => {
      interrupted = true;
      if (io.errIsTTY) io.err('\ninterrupted: stopping after this batch\n');
    };
    process.once('SIGINT', onInterrupt);
    let deleted = 0;
    let shownAt = 0;
    let from = PRUNE_FROM_START;
    try {
      for (;;) {
        // No prune lock ($3 false): FOR UPDATE SKIP LOCKED already keeps this apart from stores pruning now.
        const [row] = await db.query(pruneBatch, [batchSize, names.qualified, false, from]);
        const batch = Number(row?.deleted ?? 0);
        if (typeof row?.upto === 'string') from = row.upto;
        deleted += batch;
        if (io.errIsTTY && Date.now() - shownAt >= PROGRESS_INTERVAL_MS) {
          io.err(`\rdeleted ${count(deleted)} expired sessions…`);
          shownAt = Date.now();
        }
        if (batch < batchSize || interrupted) break;
        await nextTurn();
      }
    } finally {
      process.off('SIGINT', onInterrupt);
      if (io.errIsTTY && shownAt > 0) io.err(`\rdeleted ${count(deleted)} expired sessions\n`);
    }
    if (json) io.out(`${JSON.stringify({ table: names.qualified, deleted, interrupted })}\n`);
    else
      io.out(
        `deleted ${count(deleted)} expired sessions from ${names.qualified}${interrupted ? ' (interrupted)' : ''}\n`,
      );
    return interrupted ? EXIT_INTERRUPTED : EXIT_OK;
  };
}
