import type { SessionCore } from '../core.js';
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

/** A session as koa-session hands it to its store: the session's `toJSON()` plus `_expire` and `_maxAge` (or `_session`). */
export type KoaSessionData = Record<string, unknown>;

/** The last argument koa-session passes to `get`, `set` and `destroy`. */
export interface KoaStoreCallOptions {
  /** The request's Koa context: the store keeps what this request loaded under it. */
  ctx?: any;
  rolling?: boolean;
  /** koa-session's own guess; the store compares with what the request loaded instead (see docs/frameworks.md). */
  changed?: boolean;
}

/**
 * koa-session (6 and 7) gives its store the session's maxAge plus 10 s ("ensure store expired
 * after cookie"), and keeps the maxAge itself in the session's `_maxAge`.
 */
const KOA_SESSION_STORE_PADDING_MS = 10_000;

/** The session's lifetime: koa-session's maxAge, without the 10 s it adds for the store. */
function lifetimeSecondsOf(maxAge: number | 'session' | undefined, session: KoaSessionData): number | undefined {
  if (typeof maxAge !== 'number') return undefined;
  const padded = session._maxAge === maxAge - KOA_SESSION_STORE_PADDING_MS;
  return (padded ? maxAge - KOA_SESSION_STORE_PADDING_MS : maxAge) / 1000;
}

/**
 * A PostgreSQL store for koa-session's external-store interface (`store` option), with the
 * guarantees of the root store: a logout is final, concurrent requests keep each other's keys,
 * a save that changes nothing but the expiry is a lazy touch.
 *
 * @example
 * app.use(session({ store: new KoaPGStore({ pool }), rolling: true }, app));
 */
export class KoaPGStore {
  readonly #core: SessionCore;
  readonly #loadedBy = new ReceiptsByRequest();

  /** @param options the root store's options (`pool`, `tableName`, `ttl`, …), validated here. */
  constructor(options?: PGStoreOptions) {
    this.#core = openCore(options);
  }

  /**
   * The session stored under `key`, or null when it is missing or expired. `_expire` is not
   * stored (a lazy touch skips rewriting it): it is given as the row's own expiry, by the database.
   */
  async get(key: string, _maxAge?: unknown, options?: KoaStoreCallOptions): Promise<KoaSessionData | null> {
    const loaded = await this.#core.load(key);
    if (loaded === null) return null;
    this.#loadedBy.keep(options?.ctx, loaded.receipt);
    const session: KoaSessionData = { ...loaded.session };
    if (session._session !== true) session._expire = Date.now() + loaded.receipt.remainingSeconds * 1000;
    return session;
  }

  /** Writes the session; `maxAge` is in milliseconds, or `'session'` for a browser-session cookie (then the store's `ttl`, or one day). */
  async set(
    key: string,
    session: KoaSessionData,
    maxAge?: number | 'session',
    options?: KoaStoreCallOptions,
  ): Promise<void> {
    const { _expire, ...stored } = session;
    const ctx = options?.ctx;
    const lifetimeSeconds = lifetimeSecondsOf(maxAge, stored);
    const written = await this.#core.save(key, stored as SessionObject, this.#loadedBy.of(ctx), { lifetimeSeconds });
    this.#loadedBy.keep(ctx, written);
  }

  async destroy(key: string, options?: KoaStoreCallOptions): Promise<void> {
    await this.#core.destroy(key);
    this.#loadedBy.forget(options?.ctx);
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
