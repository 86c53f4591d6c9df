import {
  type Cookie,
  type CookieOptions,
  createCookie,
  createSession,
  isCookie,
  type SessionData,
  type SessionStorage,
} from 'react-router';
import { typeError } from '../errors.js';
import type { PGStoreOptions } from '../options.js';
import type { SessionObject } from '../types.js';
import { openCore, ReceiptsByRequest } from './request-receipts.js';
import { newSessionId } from './session-id.js';

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

/** The root store's options, plus the cookie that holds the session id. */
export interface PostgresSessionStorageOptions extends PGStoreOptions {
  /**
   * The session id cookie: one made by `createCookie`, or its options (`name` default
   * `"__session"`), as for React Router's `createSessionStorage`. Sign it (`secrets`).
   */
  cookie?: Cookie | (CookieOptions & { name?: string });
}

/** React Router's `SessionStorage`, with the store's own `pruneSessions` and `close`. */
export interface PostgresSessionStorage<Data = SessionData, FlashData = Data> extends SessionStorage<Data, FlashData> {
  /** Deletes expired sessions now; resolves with how many. */
  pruneSessions(): Promise<number>;
  /** Stops pruning, waits for operations in flight, and ends a pool the store created itself. */
  close(): Promise<void>;
}

type SerializeOptions = Parameters<Cookie['serialize']>[1];

/**
 * Session storage for React Router (and Remix) in PostgreSQL: what `createSessionStorage` gives,
 * with the store generating ids and every guarantee of the root store. A logout is final: a
 * request that loaded the session before it was destroyed cannot bring it back by committing.
 * Concurrent requests keep each other's keys, and a commit that changes nothing is a lazy touch.
 */
export function createPostgresSessionStorage<Data = SessionData, FlashData = Data>(
  options?: PostgresSessionStorageOptions,
): PostgresSessionStorage<Data, FlashData> {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw typeError('ERR_INVALID_OPTION', 'connect-pg-simple: options must be an object');
  }
  const { cookie: cookieOption, ...storeOptions } = options ?? {};
  const cookie = sessionIdCookie(cookieOption);
  const core = openCore(storeOptions);
  // React Router hands `commitSession` the Session it gave out, but builds `session.data` afresh each time.
  const loadedBy = new ReceiptsByRequest();
  // A new Session's id, made at its first commit: a second commit writes the same row.
  const madeIds = new WeakMap<object, string>();
  // Sessions destroyed: a later commit of one writes nothing, so a logout stays final.
  const destroyed = new WeakSet<object>();
  const expiredCookie = (serializeOptions: SerializeOptions) =>
    cookie.serialize('', { ...serializeOptions, maxAge: undefined, expires: new Date(0) });

  return {
    async getSession(cookieHeader, parseOptions) {
      const id: unknown = cookieHeader ? await cookie.parse(cookieHeader, parseOptions) : null;
      const loaded = typeof id === 'string' && id !== '' ? await core.load(id) : null;
      // A session that is gone keeps no id: committing it makes a new one, never revives a logged-out id.
      const session = createSession<Data, FlashData>(
        (loaded?.session ?? {}) as Data,
        loaded === null ? '' : (id as string),
      );
      if (loaded !== null) loadedBy.keep(session, loaded.receipt);
      return session;
    },

    async commitSession(session, serializeOptions) {
      if (destroyed.has(session)) return expiredCookie(serializeOptions);
      const data = session.data as SessionObject;
      const id = session.id || madeIds.get(session) || newSessionId();
      const written = await core.save(id, data, loadedBy.of(session), {
        lifetimeSeconds: lifetimeSeconds(cookie, serializeOptions),
      });
      if (session.id === '') madeIds.set(session, id);
      loadedBy.keep(session, written);
      return cookie.serialize(id, serializeOptions);
    },

    async destroySession(session, serializeOptions) {
      destroyed.add(session);
      const id = session.id || madeIds.get(session);
      if (id !== undefined) await core.destroy(id);
      loadedBy.forget(session);
      return expiredCookie(serializeOptions);
    },

    pruneSessions: () => core.prune(),
    close: () => core.close(),
  };
}

function sessionIdCookie(option: PostgresSessionStorageOptions['cookie']): Cookie {
  if (isCookie(option)) return option;
  if (option !== undefined && (typeof option !== 'object' || option === null || Array.isArray(option))) {
    throw typeError(
      'ERR_INVALID_OPTION',
      `connect-pg-simple: option "cookie" must be a Cookie from createCookie() or its options, got ${option === null ? 'null' : typeof option}`,
    );
  }
  return createCookie(option?.name || '__session', option);
}

/** The session's lifetime as React Router decides it: `maxAge`, else `expires`, of this commit or of the cookie. */
function lifetimeSeconds(cookie: Cookie, options: SerializeOptions): number | undefined {
  if (options?.maxAge != null) return options.maxAge;
  const expires = options?.expires ?? cookie.expires;
  return expires === undefined ? undefined : (expires.getTime() - Date.now()) / 1000;
}
