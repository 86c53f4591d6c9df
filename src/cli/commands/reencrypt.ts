import { setImmediate as nextTurn } from 'node:timers/promises';
import { DecryptionError, isEnvelopeText, SessionCipher, sessionKeyFrom } from '../../encryption.js';
import { reencryptStatements, type TableNames } from '../../sql.js';
import { type CommandLine, integerOption } from '../args.js';
import { EXIT_INTERRUPTED, EXIT_OK, OperationalError, UsageError } from '../errors.js';
import { count } from '../format.js';
import type { Runner } from '../io.js';
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

/**
 * Re-encrypts every live session with the first key, in batches, each batch one transaction:
 * sessions under an older key, and sessions stored before encryption was turned on. A row a
 * store writes meanwhile keeps the store's write. Rows that do not decrypt are counted and left.
 */
export function reencryptCommand(line: CommandLine, names: TableNames, env: NodeJS.ProcessEnv): Runner {
  const command = line.command!;
  const batchSize = integerOption(line, 'batch-size', { fallback: DEFAULT_BATCH_SIZE, min: 1, max: MAX_BATCH_SIZE });
  const json = line.options.json === true;
  const cipher = new SessionCipher(keysFrom(env, command));
  const { readBatch, writeBatch } = reencryptStatements(names);
  return async (maybeDb, io) => {
    const db = maybeDb!;
    if ((await requireTable(db, names)) < 2) {
      throw new OperationalError(
        `table ${names.qualified} is before schema version 2: run \`connect-pg-simple migrate\` first (encryption binds each session to its stored id)`,
      );
    }
    let interrupted = false;
    const onInterrupt = () => {
      interrupted = true;
      if (io.errIsTTY) io.err('\ninterrupted: stopping after this batch\n');
    };
    process.once('SIGINT', onInterrupt);
    const totals = { examined: 0, reencrypted: 0, current: 0, changedMeanwhile: 0, undecryptable: 0 };
    let shownAt = 0;
    let after = '';
    try {
      for (;;) {
        const rows = await db.query(readBatch, [after, batchSize]);
        const ids: string[] = [];
        const texts: string[] = [];
        const olds: string[] = [];
        for (const row of rows) {
          const [sid, stored] = [String(row.sid), String(row.sess)];
          totals.examined++;
          if (cipher.keyIdOf(stored) === cipher.currentKeyId) {
            totals.current++;
            continue;
          }
          try {
            const plain = isEnvelopeText(stored) ? cipher.decrypt(stored, sid) : stored;
            ids.push(sid);
            texts.push(cipher.encrypt(plain, sid));
            olds.push(stored);
          } catch (error) {
            if (!(error instanceof DecryptionError)) throw error;
            totals.undecryptable++;
          }
        }
        if (ids.length > 0) {
          const [written] = await db.query(writeBatch, [ids, texts, olds]);
          const updated = Number(written?.updated ?? 0);
          totals.reencrypted += updated;
          totals.changedMeanwhile += ids.length - updated;
        }
        if (io.errIsTTY && Date.now() - shownAt >= PROGRESS_INTERVAL_MS) {
          io.err(`\rre-encrypted ${count(totals.reencrypted)} of ${count(totals.examined)} sessions…`);
          shownAt = Date.now();
        }
        if (rows.length < batchSize || interrupted) break;
        after = String(rows.at(-1)!.sid);
        await nextTurn();
      }
    } finally {
      process.off('SIGINT', onInterrupt);
      if (io.errIsTTY && shownAt > 0)
        io.err(`\rre-encrypted ${count(totals.reencrypted)} of ${count(totals.examined)} sessions\n`);
    }
    if (json) {
      io.out(`${JSON.stringify({ table: names.qualified, keyId: cipher.currentKeyId, ...totals, interrupted })}\n`);
    } else {
      const notes = [
        totals.current > 0 ? `${count(totals.current)} already current` : '',
        totals.changedMeanwhile > 0 ? `${count(totals.changedMeanwhile)} rewritten by a store meanwhile` : '',
        totals.undecryptable > 0
          ? `${count(totals.undecryptable)} not decryptable with these keys, left as they are`
          : '',
      ].filter((note) => note !== '');
      io.out(
        `re-encrypted ${count(totals.reencrypted)} sessions of ${names.qualified} with key ${cipher.currentKeyId}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}${interrupted ? ' (interrupted)' : ''}\n`,
      );
    }
    return interrupted ? EXIT_INTERRUPTED : EXIT_OK;
  };
}
