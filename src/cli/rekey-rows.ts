import { decryptWithAny, isEnvelopeText, type SessionCipher } from '../encryption.js';
import { keyedSha256Function, type RekeyableForm, storedIdFunction } from '../session-id.js';
import { detailsBinding } from '../user-sessions.js';
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
  /** As `texts`, for the details (schema 3), bound to the new handle: the new id. */
  readonly details: Array<string | null>;
  /** As `bases`, for the details. */
  readonly detailsBases: Array<string | null>;
  /** Encrypted rows that no key decrypts: moved as they are (a miss before, a miss after). */
  undecryptable: number;
  /** Encrypted details that no key decrypts: moved as they are (listed without details). */
  undecryptableDetails: number;
}

/** A value re-encrypted for its new binding; null (keep the row's) when it is plain, undecryptable or bound already. */
type Resealed = { readonly text: string | null; readonly base: string | null; readonly undecryptable: boolean };

const KEPT: Resealed = { text: null, base: null, undecryptable: false };

function reseal(cipher: SessionCipher, stored: string, bindings: readonly string[], next: string): Resealed {
  const found = decryptWithAny(cipher, stored, bindings);
  if (found === undefined) return { ...KEPT, undecryptable: true };
  if (found.binding === next) return KEPT;
  return { text: cipher.encrypt(found.text, next), base: stored, undecryptable: false };
}

/**
 * Plans the move of a batch of rows of `from` ids to hmac-sha256 ids, in memory: the new id of each
 * row (its HMAC, from its SHA-256: hashed first when the table holds plain ids), and for an
 * encrypted row a new envelope bound to the new id (encryption binds a session to its stored id),
 * unless a store already bound it to the new id. So for encrypted details (schema 3), bound to the
 * session's handle: the old SHA-256 id (or a plain id's SHA-256) before, the new id after.
 */
export function planMoves(
  rows: BatchRows,
  from: RekeyableForm,
  pepper: Buffer,
  cipher: SessionCipher | undefined,
  command: string,
): RekeyMoves {
  const sha256Of = storedIdFunction('sha256');
  const keyedSha256 = keyedSha256Function(pepper);
  const moves: RekeyMoves = {
    olds: [],
    news: [],
    texts: [],
    bases: [],
    details: [],
    detailsBases: [],
    undecryptable: 0,
    undecryptableDetails: 0,
  };
  const encryptedWith = (stored: unknown): stored is string => {
    if (typeof stored !== 'string' || !isEnvelopeText(stored)) return false;
    if (cipher === undefined) {
      throw new UsageError(
        `a session to re-key is encrypted: set ${KEYS_VARIABLE} to the stores' encryptionKeys (re-keying binds each encrypted session to its new id)`,
        command,
      );
    }
    return true;
  };
  for (const row of rows) {
    const old = String(row.sid);
    // The old handle: a stored SHA-256 id, or a plain id's SHA-256; the new id is its HMAC.
    const oldHandle = from === 'sha256' ? old : sha256Of(old);
    const next = keyedSha256(oldHandle);
    moves.olds.push(old);
    moves.news.push(next);
    // Bound to its stored id (by a store without the pepper), or already to the new one (by a
    // store with it); from plain ids, a store may have bound it to the id's SHA-256.
    const session = encryptedWith(row.sess)
      ? reseal(cipher!, row.sess, from === 'sha256' ? [next, old] : [next, old, oldHandle], next)
      : KEPT;
    moves.texts.push(session.text);
    moves.bases.push(session.base);
    if (session.undecryptable) moves.undecryptable++;
    const details = encryptedWith(row.details)
      ? reseal(cipher!, row.details, [detailsBinding(next), detailsBinding(oldHandle)], detailsBinding(next))
      : KEPT;
    moves.details.push(details.text);
    moves.detailsBases.push(details.base);
    if (details.undecryptable) moves.undecryptableDetails++;
  }
  return moves;
}
