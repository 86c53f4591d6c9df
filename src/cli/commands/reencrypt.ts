import { DecryptionError, isEnvelopeText, SessionCipher } from '../../encryption.js';
import { reencryptStatements, type TableNames } from '../../sql.js';
import { type CommandLine, integerOption } from '../args.js';
import { type BatchRows, Interruption, keysetPass } from '../batches.js';
import { keysFrom } from '../env-secrets.js';
import { EXIT_INTERRUPTED, EXIT_OK, OperationalError } from '../errors.js';
import { count } from '../format.js';
import type { Runner } from '../io.js';
import { requireTable } from './require-table.js';

const MAX_BATCH_SIZE = 100_000;
const DEFAULT_BATCH_SIZE = 500;

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
    const totals = { examined: 0, reencrypted: 0, current: 0, changedMeanwhile: 0, undecryptable: 0 };
    const reencryptBatch = async (rows: BatchRows) => {
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
    };
    const interruption = new Interruption(io);
    try {
      await keysetPass(
        db,
        io,
        {
          read: readBatch,
          batchSize,
          handle: reencryptBatch,
          progress: () => `re-encrypted ${count(totals.reencrypted)} of ${count(totals.examined)} sessions`,
        },
        interruption,
      );
    } finally {
      interruption.end();
    }
    const interrupted = interruption.stopRequested;
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
