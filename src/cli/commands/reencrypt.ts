import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Database } from '../../drivers/database.js';
import { DecryptionError, isEnvelopeText, SessionCipher, sessionKeyFrom } from '../../encryption.js';
import { readTableState } from '../../schema/ensure.js';
import { storedIdFunction } from '../../session-id.js';
import { type ReencryptStatements, reencryptStatements, storeStatements, type TableNames } from '../../sql.js';
import { type CommandLine, integerOption } from '../args.js';
import { EXIT_INTERRUPTED, EXIT_OK, OperationalError, UsageError } from '../errors.js';
import { count } from '../format.js';
import type { Io, Runner } from '../io.js';
import { requireTable } from './require-table.js';

const MAX_BATCH_SIZE = 100_000;
const DEFAULT_BATCH_SIZE = 500;
const PROGRESS_INTERVAL_MS = 200;

/** The environment variable that holds the keys: never argv, which other users can read in the process list. */
export const KEYS_VARIABLE = 'CPS_ENCRYPTION_KEYS';

/** The keys from CPS_ENCRYPTION_KEYS (comma-separated base64, the current one first); never echoed. */
export function keysFrom(env: NodeJS.ProcessEnv, command: string): Buffer[] {
  const raw = env[KEYS_VARIABLE];
  if (raw === undefined || raw.trim() === '') {
    throw new UsageError(
      `set ${KEYS_VARIABLE} to the store's encryptionKeys as comma-separated base64, the current key first (keys are never taken from the command line)`,
      command,
    );
  }
  return raw.split(',').map((text, index) => {
    const key = sessionKeyFrom(text.trim());
    if (typeof key === 'string') {
      throw new UsageError(`${KEYS_VARIABLE}: key ${index + 1} must be 32 bytes in base64, got ${key}`, command);
    }
    return key;
  });
}

interface Totals {
  examined: number;
  reencrypted: number;
  current: number;
  changedMeanwhile: number;
  undecryptable: number;
}

const noTotals = (): Totals => ({ examined: 0, reencrypted: 0, current: 0, changedMeanwhile: 0, undecryptable: 0 });

/** One encrypted column, re-encrypted batch by batch; `bindingOf` says what each row's value is bound to. */
interface ColumnPass {
  readonly statements: ReencryptStatements;
  readonly bindingOf: (storedId: string) => string;
  /** What progress calls the values: "sessions", "details". */
  readonly label: string;
}

/** The passes for the table: the sessions, and from schema 3 what `describe` recorded (bound to the handle). */
function columnPasses(names: TableNames, version: number, idForm: string | undefined): ColumnPass[] {
  const passes: ColumnPass[] = [{ statements: reencryptStatements(names), bindingOf: (id) => id, label: 'sessions' }];
  if (version >= 3) {
    const handleOf = idForm === 'plain' ? storedIdFunction('sha256') : (id: string) => id;
    passes.push({
      statements: reencryptStatements(names, 'details'),
      bindingOf: (id) => `details:${handleOf(id)}`,
      label: 'details',
    });
  }
  return passes;
}

/**
 * Re-encrypts every live session with the first key, in batches, each batch one transaction:
 * sessions under an older key, and sessions stored before encryption was turned on. A row a
 * store writes meanwhile keeps the store's write. Rows that do not decrypt are counted and left.
 * From schema 3, the sessions' details too (counted apart).
 */
export function reencryptCommand(line: CommandLine, names: TableNames, env: NodeJS.ProcessEnv): Runner {
  const command = line.command!;
  const batchSize = integerOption(line, 'batch-size', { fallback: DEFAULT_BATCH_SIZE, min: 1, max: MAX_BATCH_SIZE });
  const json = line.options.json === true;
  const cipher = new SessionCipher(keysFrom(env, command));
  return async (maybeDb, io) => {
    const db = maybeDb!;
    const version = await requireTable(db, names);
    if (version < 2) {
      throw new OperationalError(
        `table ${names.qualified} is before schema version 2: run \`connect-pg-simple migrate\` first (encryption binds each session to its stored id)`,
      );
    }
    const { idForm } = await readTableState(db, storeStatements(names), names);
    let interrupted = false;
    const onInterrupt = () => {
      interrupted = true;
      if (io.errIsTTY) io.err('\ninterrupted: stopping after this batch\n');
    };
    process.once('SIGINT', onInterrupt);
    const [totals, details] = [noTotals(), noTotals()];
    try {
      for (const [index, pass] of columnPasses(names, version, idForm).entries()) {
        if (interrupted) break;
        await reencryptColumn(db, io, cipher, pass, index === 0 ? totals : details, batchSize, () => interrupted);
      }
    } finally {
      process.off('SIGINT', onInterrupt);
    }
    if (json) {
      io.out(
        `${JSON.stringify({ table: names.qualified, keyId: cipher.currentKeyId, ...totals, details, interrupted })}\n`,
      );
    } else {
      const notes = [
        totals.current > 0 ? `${count(totals.current)} already current` : '',
        totals.changedMeanwhile > 0 ? `${count(totals.changedMeanwhile)} rewritten by a store meanwhile` : '',
        totals.undecryptable > 0
          ? `${count(totals.undecryptable)} not decryptable with these keys, left as they are`
          : '',
        details.reencrypted > 0 ? `and the details of ${count(details.reencrypted)}` : '',
        details.undecryptable > 0 ? `${count(details.undecryptable)} details not decryptable, left as they are` : '',
      ].filter((note) => note !== '');
      io.out(
        `re-encrypted ${count(totals.reencrypted)} sessions of ${names.qualified} with key ${cipher.currentKeyId}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}${interrupted ? ' (interrupted)' : ''}\n`,
      );
    }
    return interrupted ? EXIT_INTERRUPTED : EXIT_OK;
  };
}

async function reencryptColumn(
  db: Database,
  io: Io,
  cipher: SessionCipher,
  { statements, bindingOf, label }: ColumnPass,
  totals: Totals,
  batchSize: number,
  interrupted: () => boolean,
): Promise<void> {
  let shownAt = 0;
  let after = '';
  try {
    for (;;) {
      const rows = await db.query(statements.readBatch, [after, batchSize]);
      const ids: string[] = [];
      const texts: string[] = [];
      const olds: string[] = [];
      for (const row of rows) {
        const [sid, stored] = [String(row.sid), String(row.value)];
        totals.examined++;
        if (cipher.keyIdOf(stored) === cipher.currentKeyId) {
          totals.current++;
          continue;
        }
        try {
          const plain = isEnvelopeText(stored) ? cipher.decrypt(stored, bindingOf(sid)) : stored;
          ids.push(sid);
          texts.push(cipher.encrypt(plain, bindingOf(sid)));
          olds.push(stored);
        } catch (error) {
          if (!(error instanceof DecryptionError)) throw error;
          totals.undecryptable++;
        }
      }
      if (ids.length > 0) {
        const [written] = await db.query(statements.writeBatch, [ids, texts, olds]);
        const updated = Number(written?.updated ?? 0);
        totals.reencrypted += updated;
        totals.changedMeanwhile += ids.length - updated;
      }
      if (io.errIsTTY && Date.now() - shownAt >= PROGRESS_INTERVAL_MS) {
        io.err(`\rre-encrypted ${count(totals.reencrypted)} of ${count(totals.examined)} ${label}…`);
        shownAt = Date.now();
      }
      if (rows.length < batchSize || interrupted()) break;
      after = String(rows.at(-1)!.sid);
      await nextTurn();
    }
  } finally {
    if (io.errIsTTY && shownAt > 0)
      io.err(`\rre-encrypted ${count(totals.reencrypted)} of ${count(totals.examined)} ${label}\n`);
  }
}
