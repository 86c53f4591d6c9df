import type { Database } from '../../drivers/database.js';
import { SessionCipher } from '../../encryption.js';
import type { TableState } from '../../schema/ensure.js';
import { beginRekeyStatement, finishRekeyStatement } from '../../schema/rekey.js';
import { parseRekeyingForm, pepperIdOf, type Rekeying } from '../../session-id.js';
import { type RekeyStatements, rekeyStatements, type Statement, type TableNames } from '../../sql.js';
import { type CommandLine, integerOption, secondsOption } from '../args.js';
import { type BatchRows, Interruption, keysetPass } from '../batches.js';
import { KEYS_VARIABLE, keysFrom, pepperFrom } from '../env-secrets.js';
import { EXIT_INTERRUPTED, EXIT_OK, OperationalError, UsageError } from '../errors.js';
import { count, countOf } from '../format.js';
import type { Runner } from '../io.js';
import { planMoves } from '../rekey-rows.js';
import { requireTable } from './require-table.js';

const MAX_BATCH_SIZE = 100_000;
const DEFAULT_BATCH_SIZE = 500;
const DEFAULT_LOCK_TIMEOUT_SECONDS = 10;
/** Passes over the rows left: a row a store rewrote while it was being moved waits for the next. */
const MAX_PASSES = 5;
/** A batch that meets a concurrent write (a deadlock, a key taken meanwhile) is tried again. */
const BATCH_ATTEMPTS = 3;
const RETRIED_CODES = new Set(['40001', '40P01', '23505']);

interface Totals {
  moved: number;
  dropped: number;
  undecryptable: number;
  undecryptableDetails: number;
  passes: number;
}

/** What the table's `sid` column says, and so what to do. */
type Plan =
  | { readonly kind: 'done' }
  | { readonly kind: 'start'; readonly rekeying: Rekeying }
  | { readonly kind: 'resume'; readonly rekeying: Rekeying };

function planFor(names: TableNames, { idForm, pepperId: keyedWith }: TableState, pepperId: string): Plan {
  // A table keyed before the fingerprint existed records no pepper (keyedWith): nothing to compare.
  if (idForm === 'hmac-sha256' && keyedWith !== undefined && keyedWith !== pepperId) {
    throw new OperationalError(
      `table ${names.qualified} is keyed with another pepper (pepper id ${keyedWith}; CPS_SESSION_ID_PEPPER's is ${pepperId}): its stores need that pepper, and a table's pepper cannot be changed (see docs/security.md); check CPS_SESSION_ID_PEPPER, --schema and --table`,
    );
  }
  if (idForm === 'hmac-sha256') return { kind: 'done' };
  if (idForm === 'sha256' || idForm === 'plain') return { kind: 'start', rekeying: { from: idForm, pepperId } };
  const rekeying = parseRekeyingForm(idForm);
  if (rekeying === undefined) {
    throw new OperationalError(
      `table ${names.qualified} records no session id form connect-pg-simple knows (its sid column's comment): check --schema and --table`,
    );
  }
  if (rekeying.pepperId !== pepperId) {
    throw new OperationalError(
      `table ${names.qualified} is being re-keyed with another pepper (pepper id ${rekeying.pepperId}; CPS_SESSION_ID_PEPPER's is ${pepperId}): run rekey with the pepper it began with`,
    );
  }
  return { kind: 'resume', rekeying };
}

/** The rows `count` (countLeft or countAll) counts, and how many of them are encrypted. */
async function countRows(db: Database, count: Statement) {
  const [row] = await db.query(count, []);
  return { rows: Number(row?.rows ?? 0), encrypted: Number(row?.encrypted ?? 0) };
}

/**
 * Re-keys a table of sha256 (or plain) ids to hmac-sha256 ids keyed with the pepper from
 * CPS_SESSION_ID_PEPPER, in JavaScript: the pepper never enters SQL. It marks the table as
 * re-keying (stores with the pepper then write the new form and find both), moves the rows in
 * batches, each its own transaction, then records hmac-sha256. Interrupted, the table stays
 * re-keying, served by the stores with the pepper; run again, it goes on where it stopped.
 */
export function rekeyCommand(line: CommandLine, names: TableNames, env: NodeJS.ProcessEnv): Runner {
  const command = line.command!;
  const batchSize = integerOption(line, 'batch-size', { fallback: DEFAULT_BATCH_SIZE, min: 1, max: MAX_BATCH_SIZE });
  const lockTimeout = secondsOption(line, 'lock-timeout', DEFAULT_LOCK_TIMEOUT_SECONDS);
  const lockTimeoutSeconds = lockTimeout === 0 ? undefined : lockTimeout;
  const dryRun = line.options['dry-run'] === true;
  const json = line.options.json === true;
  const pepper = pepperFrom(env, line);
  const pepperId = pepperIdOf(pepper);
  const cipher = env[KEYS_VARIABLE]?.trim() ? new SessionCipher(keysFrom(env, command)) : undefined;
  return async (maybeDb, io) => {
    const db = maybeDb!;
    const state = await requireTable(db, names);
    const { version } = state;
    const withDetails = version >= 3;
    const statements = rekeyStatements(names, { details: withDetails });
    if (version < 2) {
      throw new OperationalError(
        `table ${names.qualified} is at schema version ${version}: run \`connect-pg-simple migrate\` first (\`--session-ids plain\` keeps its ids as they are, for rekey to hash and key in one pass)`,
      );
    }
    const plan = planFor(names, state, pepperId);
    const report = (text: string, fields: Record<string, unknown>) =>
      io.out(json ? `${JSON.stringify({ table: names.qualified, pepperId, dryRun, ...fields })}\n` : `${text}\n`);
    if (plan.kind === 'done') {
      report(
        `${names.qualified} already stores hmac-sha256 ids: nothing to do (a table's pepper cannot be changed: see docs/security.md)`,
        { from: 'hmac-sha256', finished: true, moved: 0 },
      );
      return EXIT_OK;
    }
    const { from } = plan.rekeying;
    const toMove = await countRows(db, plan.kind === 'resume' ? statements.countLeft : statements.countAll);
    const keysMissing = toMove.encrypted > 0 && cipher === undefined;
    const needKeys = `set ${KEYS_VARIABLE} to the stores' encryptionKeys (re-keying binds each encrypted session to its new id)`;
    if (dryRun) {
      const how = plan.kind === 'resume' ? 'would go on re-keying' : 'would mark the table as re-keying and re-key';
      report(
        `${names.qualified}: ${how} ${countOf(toMove.rows, 'session')} from ${from} to hmac-sha256 ids (pepper id ${pepperId}), ${count(toMove.encrypted)} of them encrypted${keysMissing ? `: ${needKeys}` : ''} (dry run: nothing was changed)`,
        {
          from,
          resuming: plan.kind === 'resume',
          sessions: toMove.rows,
          encrypted: toMove.encrypted,
          keysNeeded: keysMissing,
        },
      );
      return EXIT_OK;
    }
    if (keysMissing)
      throw new UsageError(`${count(toMove.encrypted)} sessions to re-key are encrypted: ${needKeys}`, command);
    const leftNow = async () => (await countRows(db, statements.countLeft)).rows;
    let left = toMove.rows;
    if (plan.kind === 'start') {
      await db.query({ name: '', text: beginRekeyStatement(names, plan.rekeying, lockTimeoutSeconds) }, []);
      // Counted again: stores may have written rows between the count and the mark.
      left = await leftNow();
    }
    const totals: Totals = { moved: 0, dropped: 0, undecryptable: 0, undecryptableDetails: 0, passes: 0 };
    const interruption = new Interruption(io);
    try {
      while (left > 0 && totals.passes < MAX_PASSES && !interruption.stopRequested) {
        totals.passes++;
        await keysetPass(
          db,
          io,
          {
            read: statements.readBatch,
            batchSize,
            handle: (rows) => moveBatch(db, statements, rows, { from, pepper, cipher, command, withDetails }, totals),
            progress: () => `re-keyed ${countOf(totals.moved, 'session')}`,
          },
          interruption,
        );
        left = await leftNow();
      }
    } finally {
      interruption.end();
    }
    const fields = { from, ...totals, left, interrupted: interruption.stopRequested };
    if (left > 0) {
      if (!interruption.stopRequested) {
        throw new OperationalError(
          `${count(left)} sessions of ${names.qualified} were rewritten by stores each time rekey came to move them: run rekey again (the table stays re-keying; stores with the pepper serve it)`,
        );
      }
      report(
        `re-keyed ${countOf(totals.moved, 'session')} of ${names.qualified}, ${count(left)} left (interrupted: the table stays re-keying, and stores with the pepper serve it; run rekey again to finish)`,
        { ...fields, finished: false },
      );
      return EXIT_INTERRUPTED;
    }
    await db.query({ name: '', text: finishRekeyStatement(names, plan.rekeying, lockTimeoutSeconds) }, []);
    const notes = [
      totals.dropped > 0 ? `${count(totals.dropped)} dropped: a store had written the session anew meanwhile` : '',
      totals.undecryptable > 0
        ? `${count(totals.undecryptable)} encrypted with none of these keys, moved as they are`
        : '',
      totals.undecryptableDetails > 0
        ? `the details of ${count(totals.undecryptableDetails)} encrypted with none of these keys, moved as they are`
        : '',
    ].filter((note) => note !== '');
    report(
      `re-keyed ${countOf(totals.moved, 'session')} of ${names.qualified} from ${from} to hmac-sha256 ids (pepper id ${pepperId})${notes.length > 0 ? ` (${notes.join('; ')})` : ''}; the table now records hmac-sha256`,
      { ...fields, finished: true },
    );
    return EXIT_OK;
  };
}

interface MoveSettings {
  readonly from: Rekeying['from'];
  readonly pepper: Buffer;
  readonly cipher: SessionCipher | undefined;
  readonly command: string;
  /** The table has schema 3's details, moved and re-encrypted with the session. */
  readonly withDetails: boolean;
}

async function moveBatch(
  db: Database,
  statements: RekeyStatements,
  rows: BatchRows,
  { from, pepper, cipher, command, withDetails }: MoveSettings,
  totals: Totals,
): Promise<void> {
  if (rows.length === 0) return;
  const moves = planMoves(rows, from, pepper, cipher, command);
  const values = [moves.olds, moves.news, moves.texts, moves.bases];
  if (withDetails) values.push(moves.details, moves.detailsBases);
  for (let attempt = 1; ; attempt++) {
    try {
      const [result] = await db.query(statements.moveBatch, values);
      totals.moved += Number(result?.moved ?? 0);
      totals.dropped += Number(result?.dropped ?? 0);
      totals.undecryptable += moves.undecryptable;
      totals.undecryptableDetails += moves.undecryptableDetails;
      return;
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (attempt >= BATCH_ATTEMPTS || typeof code !== 'string' || !RETRIED_CODES.has(code)) throw error;
    }
  }
}
