import type { Database } from '../../drivers/database.js';
import { decryptWithAny, isEnvelopeText, SessionCipher } from '../../encryption.js';
import { parseRekeyingForm, storedIdFunction } from '../../session-id.js';
import { type ReencryptStatements, reencryptStatements, type TableNames } from '../../sql.js';
import { detailsBinding } from '../../user-sessions.js';
import { type CommandLine, integerOption } from '../args.js';
import { type BatchRows, Interruption, keysetPass } from '../batches.js';
import { keysFrom } from '../env-secrets.js';
import { EXIT_INTERRUPTED, EXIT_OK, OperationalError } from '../errors.js';
import { count, countOf } from '../format.js';
import type { Io, Runner } from '../io.js';
import { requireTable } from './require-table.js';

const MAX_BATCH_SIZE = 100_000;
const DEFAULT_BATCH_SIZE = 500;

interface Totals {
  examined: number;
  reencrypted: number;
  current: number;
  changedMeanwhile: number;
  undecryptable: number;
}

const noTotals = (): Totals => ({ examined: 0, reencrypted: 0, current: 0, changedMeanwhile: 0, undecryptable: 0 });

/** One encrypted column, re-encrypted batch by batch; `bindingsOf` says what each row's value may be bound to. */
interface ColumnPass {
  readonly statements: ReencryptStatements;
  readonly bindingsOf: (storedId: string) => readonly string[];
  /** What progress calls the values: "sessions", "details". */
  readonly label: string;
}

/**
 * The passes for the table: the sessions, and from schema 3 what `describe` recorded, bound to
 * the handle: the stored id, or a plain id's SHA-256 (mid re-keying from plain ids, a row may be
 * either: both are tried).
 */
function columnPasses(names: TableNames, version: number, idForm: string | undefined): ColumnPass[] {
  const passes: ColumnPass[] = [
    { statements: reencryptStatements(names), bindingsOf: (id) => [id], label: 'sessions' },
  ];
  if (version >= 3) {
    const sha256Of = storedIdFunction('sha256');
    const handlesOf: (id: string) => readonly string[] =
      idForm === 'plain'
        ? (id) => [sha256Of(id)]
        : parseRekeyingForm(idForm)?.from === 'plain'
          ? (id) => [id, sha256Of(id)]
          : (id) => [id];
    passes.push({
      statements: reencryptStatements(names, 'details'),
      bindingsOf: (id) => handlesOf(id).map(detailsBinding),
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
    const { version, idForm } = await requireTable(db, names);
    if (version < 2) {
      throw new OperationalError(
        `table ${names.qualified} is before schema version 2: run \`connect-pg-simple migrate\` first (encryption binds each session to its stored id)`,
      );
    }
    const [totals, details] = [noTotals(), noTotals()];
    const interruption = new Interruption(io);
    try {
      for (const [index, pass] of columnPasses(names, version, idForm).entries()) {
        if (interruption.stopRequested) break;
        await reencryptColumn(db, io, cipher, pass, index === 0 ? totals : details, batchSize, interruption);
      }
    } finally {
      interruption.end();
    }
    const interrupted = interruption.stopRequested;
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
        `re-encrypted ${countOf(totals.reencrypted, 'session')} of ${names.qualified} with key ${cipher.currentKeyId}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}${interrupted ? ' (interrupted)' : ''}\n`,
      );
    }
    return interrupted ? EXIT_INTERRUPTED : EXIT_OK;
  };
}

/** One column's pass over the table (see batches.ts), each row re-encrypted with the binding it decrypted with. */
function reencryptColumn(
  db: Database,
  io: Io,
  cipher: SessionCipher,
  { statements, bindingsOf, label }: ColumnPass,
  totals: Totals,
  batchSize: number,
  interruption: Interruption,
): Promise<void> {
  const reencryptBatch = async (rows: BatchRows) => {
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
      const bindings = bindingsOf(sid);
      const found = isEnvelopeText(stored)
        ? decryptWithAny(cipher, stored, bindings)
        : { text: stored, binding: bindings[0]! };
      if (found === undefined) {
        totals.undecryptable++;
        continue;
      }
      ids.push(sid);
      texts.push(cipher.encrypt(found.text, found.binding));
      olds.push(stored);
    }
    if (ids.length > 0) {
      const [written] = await db.query(statements.writeBatch, [ids, texts, olds]);
      const updated = Number(written?.updated ?? 0);
      totals.reencrypted += updated;
      totals.changedMeanwhile += ids.length - updated;
    }
  };
  return keysetPass(
    db,
    io,
    {
      read: statements.readBatch,
      batchSize,
      handle: reencryptBatch,
      progress: () => `re-encrypted ${count(totals.reencrypted)} of ${count(totals.examined)} ${label}`,
    },
    interruption,
  );
}
