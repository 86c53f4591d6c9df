import { DecryptionError, isEnvelopeText, type SessionCipher } from '../encryption.js';
import { keyedSha256Function, type RekeyableForm, storedIdFunction } from '../session-id.js';
import type { BatchRows } from './batches.js';
import { KEYS_VARIABLE } from './env-secrets.js';
import { UsageError } from './errors.js';

/** One batch's rows as `moveBatch` (sql.ts) takes them: old ids, new ids, new texts, texts replaced. */
export interface RekeyMoves {
  readonly olds: string[];
  readonly news: string[];
  /** The re-encrypted text, bound to the new id; null to keep the row's text. */
  readonly texts: Array<string | null>;
  /** The text a re-encrypted row must still hold (compare-and-swap); null with a null text. */
  readonly bases: Array<string | null>;
  /** Encrypted rows that no key decrypts: moved as they are (a miss before, a miss after). */
  undecryptable: number;
}

/**
 * Plans the move of a batch of rows of `from` ids to hmac-sha256 ids, in memory: the new id of each
 * row (its HMAC, from its SHA-256: hashed first when the table holds plain ids), and for an
 * encrypted row a new envelope bound to the new id (encryption binds a session to its stored id),
 * unless a store already bound it to the new id.
 */
export function planMoves(
  rows: BatchRows,
  from: RekeyableForm,
  pepper: Buffer,
  cipher: SessionCipher | undefined,
  command: string,
): RekeyMoves {
  const keyed = storedIdFunction('hmac-sha256', pepper);
  const sha256Of = storedIdFunction('sha256');
  const newIdOf = from === 'sha256' ? keyedSha256Function(pepper) : keyed;
  const moves: RekeyMoves = { olds: [], news: [], texts: [], bases: [], undecryptable: 0 };
  for (const row of rows) {
    const old = String(row.sid);
    const stored = String(row.sess);
    const next = newIdOf(old);
    moves.olds.push(old);
    moves.news.push(next);
    if (!isEnvelopeText(stored)) {
      moves.texts.push(null);
      moves.bases.push(null);
      continue;
    }
    if (cipher === undefined) {
      throw new UsageError(
        `a session to re-key is encrypted: set ${KEYS_VARIABLE} to the stores' encryptionKeys (re-keying binds each encrypted session to its new id)`,
        command,
      );
    }
    // Bound to its stored id (by a store without the pepper), or already to the new one (by a
    // store with it); from plain ids, a store may have bound it to the id's SHA-256.
    const bindings = from === 'sha256' ? [next, old] : [next, old, sha256Of(old)];
    const found = decryptWithAny(cipher, stored, bindings);
    if (found === undefined) moves.undecryptable++;
    if (found === undefined || found.binding === next) {
      moves.texts.push(null);
      moves.bases.push(null);
    } else {
      moves.texts.push(cipher.encrypt(found.text, next));
      moves.bases.push(stored);
    }
  }
  return moves;
}

function decryptWithAny(
  cipher: SessionCipher,
  stored: string,
  bindings: readonly string[],
): { text: string; binding: string } | undefined {
  for (const binding of bindings) {
    try {
      return { text: cipher.decrypt(stored, binding), binding };
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
    }
  }
  return undefined;
}
