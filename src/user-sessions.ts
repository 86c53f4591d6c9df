import type { Row } from './drivers/database.js';
import { decryptWithAny, isEnvelopeText, type SessionCipher } from './encryption.js';
import { DecryptionError, typeError } from './errors.js';
import type { StoredIdOf } from './session-id.js';
import type { Statement, UserSessionStatements } from './sql.js';
import type { IdParameter } from './table-ids.js';
import { userIdText } from './user-id.js';

/**
 * Sessions per user (schema 3): a user's live sessions listed by handle, and revoked in one
 * statement. The core runs these under its time limit and keeps its caches honest.
 */

/** One of a user's live sessions, as `userSessions` lists it. */
export interface UserSession {
  /**
   * Names the session for as long as it lives: safe to show and to put in a form. It is never a
   * session id: with hashed ids (the default) it is the id's stored hash, with `hashSessionIds:
   * false` the SHA-256 of the id; either way, sent as a cookie it finds nothing.
   */
  readonly handle: string;
  readonly createdAt: Date;
  /** The last write or touch: exact to within the lazy-touch window (`touchAfter`, 60 s by default). */
  readonly lastActiveAt: Date;
  /** When the session ends unless it is used again (or its absolute timeout, if sooner). */
  readonly expiresAt: Date;
  /** What `describe` recorded when the session was created or its user last changed; null for nothing. */
  readonly details: Record<string, unknown> | null;
}

/** What the queries need of the core. */
export interface UserSessionsContext {
  readonly statements: UserSessionStatements;
  query(statement: Statement, values: readonly unknown[]): Promise<Row[]>;
  readonly handles: SessionHandles;
  log(...args: unknown[]): void;
}

/** Longest user id, handle or id accepted as an argument, in UTF-8 bytes (the sid limit). */
const MAX_ARGUMENT_BYTES = 1024;

/** A user id given to a method, as the column stores it (a number as its decimal string). */
export function userIdArgument(userId: unknown, method: string): string {
  const text = userIdText(userId);
  if (text === undefined) {
    throw typeError(
      'ERR_INVALID_ARG',
      `connect-pg-simple: ${method} takes a user id (a non-empty string or a finite number), got ${describeArgument(userId)}`,
    );
  }
  return text;
}

/** A handle or session id given to a method: a non-empty string the column could hold. */
export function textArgument(value: unknown, method: string, what: string): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.includes('\0') ||
    !(value as string & { isWellFormed(): boolean }).isWellFormed() ||
    Buffer.byteLength(value) > MAX_ARGUMENT_BYTES
  ) {
    throw typeError('ERR_INVALID_ARG', `connect-pg-simple: ${method} takes ${what}, got ${describeArgument(value)}`);
  }
  return value;
}

function describeArgument(value: unknown): string {
  return typeof value === 'string'
    ? value.length === 0
      ? 'an empty string'
      : 'a string it cannot hold'
    : typeof value;
}

/** What `details` are bound to: the handle, with a prefix of its own (see `SessionHandles`). */
export function detailsBinding(handle: string): string {
  return `details:${handle}`;
}

/**
 * Handles, and the encryption of `details`: bound to the handle (with a prefix of its own, so a
 * details value copied into `sess` never decrypts as a session).
 */
export class SessionHandles {
  readonly #handleOf: StoredIdOf;
  readonly #cipher: SessionCipher | undefined;
  readonly #bindingsOf: (handle: string) => readonly string[];

  /**
   * `handleOf` a session id (see `TableIds.handleOf`); `bindingsOf` a listed handle, the handles
   * its details may be bound to, the likeliest first.
   */
  constructor(
    handleOf: StoredIdOf,
    cipher: SessionCipher | undefined,
    bindingsOf: (handle: string) => readonly string[] = (handle) => [handle],
  ) {
    this.#handleOf = handleOf;
    this.#cipher = cipher;
    this.#bindingsOf = bindingsOf;
  }

  /** The handle of the session with this (cookie) id. */
  of(sid: string): string {
    return this.#handleOf(sid);
  }

  /** `details` as the column stores it: encrypted with `encryptionKeys`. */
  storable(detailsText: string | null, handle: string): string | null {
    if (detailsText === null || this.#cipher === undefined) return detailsText;
    return this.#cipher.encrypt(detailsText, detailsBinding(handle));
  }

  #decrypted(cipher: SessionCipher, stored: string, handle: string): string {
    const found = decryptWithAny(cipher, stored, this.#bindingsOf(handle).map(detailsBinding));
    if (found === undefined) throw new DecryptionError('stored details do not decrypt with these keys for this handle');
    return found.text;
  }

  /** The stored `details` read back; null (and logged) when they do not decrypt or parse. */
  readable(stored: unknown, handle: string, log: (...args: unknown[]) => void): Record<string, unknown> | null {
    if (typeof stored !== 'string') return null;
    try {
      let text = stored;
      if (isEnvelopeText(stored)) {
        if (this.#cipher === undefined)
          throw new DecryptionError('stored details are encrypted, and encryptionKeys is not set');
        text = this.#decrypted(this.#cipher, stored, handle);
      }
      const details: unknown = JSON.parse(text);
      return typeof details === 'object' && details !== null && !Array.isArray(details)
        ? (details as Record<string, unknown>)
        : null;
    } catch (error) {
      if (!(error instanceof DecryptionError) && !(error instanceof SyntaxError)) throw error;
      log('connect-pg-simple: the details of a session could not be read and were left out:', error);
      return null;
    }
  }
}

export async function listUserSessions(context: UserSessionsContext, userId: string): Promise<UserSession[]> {
  const rows = await context.query(context.statements.list, [userId]);
  return rows.map((row) => {
    const handle = String(row.handle);
    return {
      handle,
      createdAt: new Date(Number(row.created_ms)),
      lastActiveAt: new Date(Number(row.touched_ms)),
      expiresAt: new Date(Number(row.expires_ms)),
      details: context.handles.readable(row.details, handle, context.log),
    };
  });
}

/** Deletes the user's sessions but the one `except` names (a session id or a handle); resolves with how many. */
export async function destroyUserSessions(
  context: UserSessionsContext,
  userId: string,
  exceptStoredId: IdParameter | undefined,
  except: string | undefined,
): Promise<number> {
  const { statements } = context;
  const [row] =
    except === undefined || exceptStoredId === undefined
      ? await context.query(statements.destroyAll, [userId])
      : await context.query(statements.destroyAllBut, [userId, exceptStoredId, except]);
  return Number(row?.n ?? 0);
}

/** Deletes the session with this handle (only if it is the user's, when a user is given); whether one was. */
export async function destroyHandle(
  context: UserSessionsContext,
  handle: string,
  userId: string | undefined,
): Promise<boolean> {
  const { statements } = context;
  const [row] =
    userId === undefined
      ? await context.query(statements.destroyHandle, [handle])
      : await context.query(statements.destroyUserHandle, [handle, userId]);
  return Number(row?.n ?? 0) > 0;
}
