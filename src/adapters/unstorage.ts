import type { Driver } from 'unstorage';
import { typeError } from '../errors.js';
import type { PGStoreOptions } from '../options.js';
import type { SessionObject } from '../types.js';
import { openCore } from './request-receipts.js';

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

/** The name the driver gives unstorage. */
const DRIVER_NAME = 'connect-pg-simple';

/** The item's text, as unstorage serialized it, is kept under this key of the row's JSON object. */
const VALUE_KEY = 'value';

/** unstorage's per-call options the driver reads. */
interface ItemOptions {
  /** Seconds the item lives (the store's `ttl` option wins; without either, or with 0, one day). */
  ttl?: number;
}

/** The driver as unstorage sees it, with the store's own `pruneSessions`. */
export interface PostgresDriver extends Driver<PGStoreOptions | undefined> {
  /** Deletes expired items now; resolves with how many. */
  pruneSessions(): Promise<number>;
}

/**
 * An unstorage driver keeping items in the session table: what Nuxt's and Astro's session
 * storage use. Items live for the `ttl` given to `setItem` (seconds), by the database's clock, and
 * expired ones are pruned as sessions are. unstorage gives a driver a key and a text, never a
 * request: each `setItem` stores the item whole (see docs/frameworks.md for what that means for
 * a logout). Keys are stored as given (`hashSessionIds: false`): unstorage lists them.
 *
 * @example
 * const storage = createStorage({ driver: postgresDriver({ pool }) });
 * await storage.setItem('session:abc', { user: 'ada' }, { ttl: 3600 });
 */
export function postgresDriver(options?: PGStoreOptions): PostgresDriver {
  // unstorage lists keys (`getKeys`), so the table must keep them as given, not hashed.
  if (options?.hashSessionIds === true) {
    throw typeError(
      'ERR_INVALID_OPTION',
      'connect-pg-simple/unstorage: option "hashSessionIds" cannot be true: unstorage lists its keys, so they are stored as given (give the driver a table of its own)',
    );
  }
  const core = openCore({ ...options, hashSessionIds: false });
  /** The item's text; null when the row is missing, expired, or not an item (a session of another framework). */
  const itemText = async (key: string): Promise<string | null> => {
    const value = (await core.load(key))?.session[VALUE_KEY];
    return typeof value === 'string' ? value : null;
  };
  // unstorage passes no base (undefined) for the whole mount.
  const keysUnder = async (base: string | undefined): Promise<string[]> =>
    (await core.all()).map(({ sid }) => sid).filter((key) => !base || key.startsWith(base));

  return {
    name: DRIVER_NAME,
    flags: { ttl: true },
    options,

    hasItem: async (key) => (await itemText(key)) !== null,
    getItem: (key) => itemText(key),

    async setItem(key, value, itemOptions: ItemOptions = {}) {
      const item = { [VALUE_KEY]: value } as SessionObject;
      await core.save(key, item, undefined, { lifetimeSeconds: ttlSeconds(itemOptions) });
    },

    async removeItem(key) {
      await core.destroy(key);
    },

    // The table has no index on key prefixes; listing reads every live row (rarely needed for sessions).
    getKeys: (base) => keysUnder(base),

    async clear(base) {
      if (!base) return core.clear();
      await Promise.all((await keysUnder(base)).map((key) => core.destroy(key)));
    },

    dispose: () => core.close(),
    pruneSessions: () => core.prune(),
  };
}

/** A ttl of 0 (or null) is none, as unstorage's own drivers (redis, upstash, vercel-kv) read a falsy one. */
function ttlSeconds(itemOptions: ItemOptions): number | undefined {
  const ttl = itemOptions.ttl as unknown;
  if (ttl === undefined || ttl === null || ttl === 0) return undefined;
  if (typeof ttl !== 'number' || !(ttl > 0) || !Number.isFinite(ttl)) {
    throw typeError(
      'ERR_INVALID_ARG',
      `connect-pg-simple: setItem option "ttl" must be a positive number of seconds, got ${String(ttl)}`,
    );
  }
  return ttl;
}

export default postgresDriver;
