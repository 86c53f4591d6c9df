import type { Row } from './drivers/database.js';
import { isEnvelopeText, type SessionCipher } from './encryption.js';
import { CorruptSessionError, DecryptionError, rangeError, typeError } from './errors.js';
import type { LoadReceipt } from './load-receipt.js';
import type { TableIds } from './table-ids.js';
import type { SessionObject } from './types.js';

/**
 * Session object ⇄ the text stored in the `sess` column: JSON, encrypted and bound to the row's
 * id when encryption is on (see encryption.ts).
 */

export function encodeSession(session: unknown, maxBytes: number | undefined): string {
  if (typeof session !== 'object' || session === null || Array.isArray(session)) {
    throw typeError(
      'ERR_INVALID_SESSION',
      `connect-pg-simple: a session must be an object, got ${session === null ? 'null' : Array.isArray(session) ? 'an array' : typeof session}`,
    );
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(session);
  } catch (error) {
    throw typeError(
      'ERR_INVALID_SESSION',
      `connect-pg-simple: the session cannot be stored as JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  // An object's own toJSON() may turn it into anything: only an object's text is a session.
  if (text?.[0] !== '{') {
    throw typeError(
      'ERR_INVALID_SESSION',
      `connect-pg-simple: the session's toJSON() must return an object, got ${jsonKind(text)}: nothing was stored`,
    );
  }
  if (maxBytes !== undefined) {
    const bytes = Buffer.byteLength(text);
    if (bytes > maxBytes) {
      throw rangeError(
        'ERR_SESSION_TOO_LARGE',
        `connect-pg-simple: the session is ${bytes} bytes as JSON, more than maxSessionSize (${maxBytes})`,
      );
    }
  }
  return text;
}

/** What a JSON text holds, by its first character: for an error message that shows none of it. */
const JSON_KINDS: Readonly<Record<string, string>> = {
  '"': 'a string',
  '[': 'an array',
  n: 'null',
  t: 'a boolean',
  f: 'a boolean',
};

function jsonKind(text: string | undefined): string {
  return text === undefined ? 'undefined' : (JSON_KINDS[text[0] ?? ''] ?? 'a number');
}

/** The stored text as a session object; a row that is not a JSON object is corrupt. */
export function decodeSession(text: unknown): SessionObject {
  if (typeof text !== 'string') throw new CorruptSessionError(`stored session is ${typeof text}, not JSON text`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text it failed on: session data, which is not for the log.
    const position = /at position \d+/.exec(String((error as Error).message))?.[0];
    throw new CorruptSessionError(`stored session is not valid JSON${position === undefined ? '' : ` (${position})`}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CorruptSessionError(
      `stored session is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not an object`,
    );
  }
  return value as SessionObject;
}

/** A session as `all()` lists it. */
export interface ListedSession {
  /** The id as the table stores it: with hashed ids (the default), its hash, not the cookie's id. */
  readonly sid: string;
  readonly session: SessionObject;
}

/** A stored session as `load` found it, and the receipt its request's writes give back to `save`. */
export interface LoadedSession {
  readonly session: SessionObject;
  readonly receipt: LoadReceipt;
}

/** What a read of a session's row found beside its stored text. */
export interface FoundRow {
  /** Seconds the row had left when the statement was sent, by the database's clock. */
  readonly remainingSeconds: number;
  /** When the statement was sent, on the store's monotonic clock. */
  readonly at: number;
  /** The row's user id (schema 3); undefined when the table has none. */
  readonly userId: string | null | undefined;
}

/** What a `get` statement sent at `at` found beside the stored text. */
export function foundIn(row: Row, at: number): FoundRow {
  return { remainingSeconds: Number(row.remaining), at, userId: row.user_id as string | null | undefined };
}

/** A stored session's JSON text, as `SessionCodec.readable` found it. */
export interface ReadableText {
  /** The JSON text (a row's text as it is when it is not encrypted). */
  readonly text: unknown;
  /** Only another binding than the first (the likeliest) decrypted it. */
  readonly boundElsewhere: boolean;
}

/**
 * The store's codec: the stored text of a row ⇄ a session, with encryption and id binding. It
 * returns what it found; a row it cannot read it logs and calls missing (null).
 */
export class SessionCodec {
  readonly #cipher: SessionCipher | undefined;
  readonly #requireCookie: boolean;
  readonly #log: (...args: unknown[]) => void;

  /** `requireCookie`: a stored session without a `cookie` object is corrupt (express-session would crash on it). */
  constructor(cipher: SessionCipher | undefined, requireCookie: boolean, log: (...args: unknown[]) => void) {
    this.#cipher = cipher;
    this.#requireCookie = requireCookie;
    this.#log = log;
  }

  /** Whether sessions are stored encrypted (`encryptionKeys`). */
  get encrypts(): boolean {
    return this.#cipher !== undefined;
  }

  /**
   * The session's JSON text from the row's stored text: decrypted when it is encrypted (bound to
   * one of `bindings()`, the likeliest first: asked only then). A row that does not decrypt is
   * logged and missing (null). With encryption on, a plain row (written before it was turned on)
   * is read as it is.
   */
  readable(stored: unknown, bindings: () => readonly string[]): ReadableText | null {
    if (typeof stored !== 'string' || !isEnvelopeText(stored)) return { text: stored, boundElsewhere: false };
    let failure: unknown;
    try {
      if (this.#cipher === undefined)
        throw new DecryptionError('stored session is encrypted, and encryptionKeys is not set');
      const candidates = bindings();
      for (const binding of candidates) {
        try {
          return { text: this.#cipher.decrypt(stored, binding), boundElsewhere: binding !== candidates[0] };
        } catch (error) {
          failure ??= error;
          if (!(error instanceof DecryptionError)) throw error;
        }
      }
      throw failure;
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      this.#log('connect-pg-simple: a stored session could not be decrypted and was treated as missing:', error);
      return null;
    }
  }

  /**
   * A stored session and the receipt of its load, from a row of session `sid`; null when the row
   * does not decrypt or is corrupt. `boundElsewhere`: it was bound to another form of its id than
   * the table's, and is to be written again, bound to that (see `WritePath.rebind`).
   */
  loaded(
    sid: string,
    stored: unknown,
    ids: Pick<TableIds, 'readBindings' | 'idCandidates'>,
    found: FoundRow,
  ): (LoadedSession & { boundElsewhere: boolean }) | null {
    const readable = this.readable(stored, () => ids.readBindings(sid));
    if (readable === null) return null;
    const session = this.session(readable.text);
    if (session === null) return null;
    const { text } = readable;
    const receipt: LoadReceipt = { sid, text: text as string, remainingSeconds: found.remainingSeconds, at: found.at };
    if (text !== stored) receipt.stored = stored as string;
    // The row's user, as stored: a write records the session's user when it differs.
    if (found.userId !== undefined) receipt.userId = found.userId;
    return { session, receipt, boundElsewhere: readable.boundElsewhere && !ids.idCandidates };
  }

  /** A session's JSON text as the row stores it: encrypted, bound to `binding`, when encryption is on. */
  storable(text: string, binding: () => string): string {
    return this.#cipher === undefined ? text : this.#cipher.encrypt(text, binding());
  }

  /** A stored session's JSON text as a session; a corrupt one is logged and missing (null). */
  session(text: unknown): SessionObject | null {
    try {
      const session = decodeSession(text);
      if (this.#requireCookie && (typeof session.cookie !== 'object' || session.cookie === null)) {
        throw new CorruptSessionError('stored session has no cookie object');
      }
      return session;
    } catch (error) {
      if (!(error instanceof CorruptSessionError)) throw error;
      this.#log('connect-pg-simple: a stored session is corrupt and was treated as missing:', error);
      return null;
    }
  }

  /**
   * The sessions `all()` lists, from their rows (`sid`, `sess`): one that does not decrypt, or is
   * corrupt, is logged and left out. `bindings`: those of a listed row's id, the likeliest first.
   */
  listed(rows: readonly Row[], bindings: (sid: string) => readonly string[]): ListedSession[] {
    const sessions: ListedSession[] = [];
    for (const row of rows) {
      const sid = row.sid as string;
      try {
        const readable = this.readable(row.sess, () => bindings(sid));
        if (readable === null) continue;
        sessions.push({ sid, session: decodeSession(readable.text) });
      } catch (error) {
        if (!(error instanceof CorruptSessionError)) throw error;
        this.#log('connect-pg-simple: a stored session is corrupt and was left out:', error);
      }
    }
    return sessions;
  }
}
