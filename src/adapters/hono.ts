import type { SessionData, Store } from 'hono-sessions';
import type { SessionCore } from '../core.js';
import { typeError } from '../errors.js';
import { expiresAtMs, type FrameworkLifetime } from '../expiry.js';
import type { PGStoreOptions } from '../options.js';
import type { SessionObject } from '../types.js';
import { openCore, ReceiptsByRequest } from './request-receipts.js';

export {
  ConnectionError,
  ConnectTimeoutError,
  CorruptSessionError,
  DecryptionError,
  type MistakeCode,
  type MistakeError,
  OperationTimeoutError,
  PGStoreError,
  SchemaError,
  StoreClosedError,
} from '../errors.js';
export type { PGStoreOptions } from '../options.js';

/** The stored form keeps hono-sessions' `_expire` as `cookie.expires`: the form of the rows stored already. */
const EXPIRY_KEY = 'cookie';

/**
 * A PostgreSQL store for hono-sessions (its `store` option), with the guarantees of the root
 * store: a logout is final, concurrent requests keep each other's keys, and a request that only
 * extends the expiry is a lazy touch.
 *
 * hono-sessions writes the whole session object back; the store keeps each session key as a
 * top-level key of the row (so two requests that change different keys both keep theirs), and
 * `_expire` as the row's `cookie.expires`. `_accessed`, which hono-sessions sets on every request
 * and never reads, is not stored: storing it would make every request a write.
 *
 * @example
 * app.use('*', sessionMiddleware({ store: new HonoPGStore({ pool }), expireAfterSeconds: 900 }));
 */
export class HonoPGStore implements Store {
  readonly #core: SessionCore;
  /** Keyed by the session object hono-sessions keeps for the request and hands back to `persistSessionData`. */
  readonly #loadedBy = new ReceiptsByRequest();

  /** @param options the root store's options (`pool`, `tableName`, `ttl`, …), validated here. */
  constructor(options?: PGStoreOptions) {
    // hono-sessions' expiry is stored as `cookie.expires` (toStored): a change of it alone is a touch.
    this.#core = openCore(options, false);
  }

  async getSessionById(sessionId?: string): Promise<SessionData | null> {
    if (sessionId === undefined || sessionId === '') return null;
    const loaded = await this.#core.load(sessionId);
    if (loaded === null) return null;
    const expiryDecides = this.#core.options.ttl === undefined;
    const session = fromStored(loaded.session, this.#core.expiresAtMs(loaded.receipt), expiryDecides);
    this.#loadedBy.keep(session, loaded.receipt);
    return session;
  }

  /**
   * A new session (or a rotated key's): inserted. Its first `persistSessionData`, later in the
   * same request, writes it whole, with the expiry hono-sessions has set by then.
   */
  async createSession(sessionId: string, initialData: SessionData): Promise<void> {
    await this.#core.save(sessionId, toStored(initialData), undefined, lifetimeOf(initialData));
  }

  /** A loaded session is updated (only the keys this request changed, and only while its row is alive). */
  async persistSessionData(sessionId: string, sessionData: SessionData): Promise<void> {
    const receipt = this.#loadedBy.of(sessionData);
    await this.#core.save(sessionId, toStored(sessionData), receipt, lifetimeOf(sessionData));
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.#core.destroy(sessionId);
  }

  /** Deletes expired sessions now; resolves with how many. */
  pruneSessions(): Promise<number> {
    return this.#core.prune();
  }

  /** Stops pruning, waits for operations in flight, and ends a pool the store created itself. */
  close(): Promise<void> {
    return this.#core.close();
  }
}

/** The session lives until hono-sessions' `_expire` (the store's `ttl`, or one day, without one). */
function lifetimeOf(session: SessionData): FrameworkLifetime {
  return { expiresAtMs: expiresAtMs(session._expire) };
}

function toStored(session: SessionData): SessionObject {
  const data = session._data ?? {};
  if (Object.hasOwn(data, EXPIRY_KEY)) {
    throw typeError(
      'ERR_INVALID_SESSION',
      `connect-pg-simple: the session key "${EXPIRY_KEY}" is reserved by the store`,
    );
  }
  return { ...data, [EXPIRY_KEY]: { expires: session._expire ?? null } };
}

/**
 * `_expire` as the row's own expiry (`rowExpiresAtMs`, by the database's clock) where it decides the
 * session's lifetime (no `ttl` option): a lazy touch moves the row's expiry, not the stored
 * `_expire`. With `ttl`, `_expire` as stored, unless a skipped touch left it behind while the row
 * lives on. Either way hono-sessions never ends a session the row keeps.
 */
function fromStored(stored: SessionObject, rowExpiresAtMs: number, expiryDecides: boolean): SessionData {
  const { [EXPIRY_KEY]: expiry, ...data } = stored;
  let expire = (expiry as { expires?: string | null } | undefined)?.expires ?? null;
  if (typeof expire === 'string' && (expiryDecides || Date.parse(expire) <= Date.now())) {
    expire = new Date(rowExpiresAtMs).toISOString();
  }
  return { _data: data as SessionData['_data'], _expire: expire, _delete: false, _accessed: null };
}
