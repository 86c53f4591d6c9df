import { EventEmitter } from 'node:events';
import type { Store as ExpressSessionStore, SessionData } from 'express-session';
import { type Callback, settle } from './callbacks.js';
import type { CoreSettings, LoadedSession, SessionCore, WriteOptions } from './core.js';
import { typeError } from './errors.js';
import { expiresAtMs } from './expiry.js';
import { attachReceipt, bindReceipt, receiptFor, receiptOf } from './load-receipt.js';
import { ObservedCore } from './observed-core.js';
import { type PGStoreOptions, resolveOptions } from './options.js';
import type { SessionObject } from './types.js';
import type { UserSession } from './user-sessions.js';

export type { UserSession } from './user-sessions.js';

/** Options of `destroyUserSessions`. */
export interface DestroyUserSessionsOptions {
  /** Keep this session: its session id (`req.sessionID`, "all other devices") or its handle. */
  readonly except?: string;
}

/** Options of `destroySession`. */
export interface DestroySessionOptions {
  /**
   * Revoke the session only if it belongs to this user: pass it, so a user can revoke only their
   * own. Given as `undefined` or `null` (no signed-in user), the call is refused with a TypeError.
   */
  readonly userId?: string | number;
}

type OptionsOrCallback<O, T> = O | Callback<T> | undefined;

const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null;

/**
 * How long the session's cookie (express-session's Cookie, or its JSON form) says it lives: until
 * its expiry; a plain `{ maxAge }` without `expires` (as a direct call may give) lives `maxAge`
 * milliseconds from now, as express-session's Cookie would count it.
 */
export function cookieLifetime(session: unknown): WriteOptions {
  const cookie = isObject(session) ? (session as { cookie?: unknown }).cookie : undefined;
  if (!isObject(cookie)) return {};
  const { expires, maxAge: maxAgeMs } = cookie as { expires?: unknown; maxAge?: unknown };
  const endsAtMs = expiresAtMs(expires);
  if (
    endsAtMs === undefined &&
    (expires === undefined || expires === null) &&
    typeof maxAgeMs === 'number' &&
    Number.isFinite(maxAgeMs)
  ) {
    return { lifetimeSeconds: maxAgeMs / 1000 };
  }
  return { expiresAtMs: endsAtMs };
}

/** `(options, callback)`, `(callback)` or `(options)`: the options and the callback. */
function optionsAndCallback<O extends object, T>(
  given: OptionsOrCallback<O, T>,
  callback: Callback<T> | undefined,
  method: string,
): [O | undefined, Callback<T> | undefined] {
  if (typeof given === 'function') return [undefined, given];
  if (given !== undefined && given !== null && (typeof given !== 'object' || Array.isArray(given))) {
    throw typeError(
      'ERR_INVALID_ARG',
      `connect-pg-simple: the options of ${method}() must be an object, got ${typeof given}`,
    );
  }
  return [given ?? undefined, callback];
}

/** A stored session as `all()` lists it: the session's data and its id as the table stores it (hashed by default). */
export type ListedSessionData = SessionData & { id: string };

/** The store's own methods: each takes a callback, or without one returns a promise. */
export interface PGStoreMethods {
  get(sid: string): Promise<SessionData | null>;
  get(sid: string, callback: Callback<SessionData | null>): void;
  set(sid: string, session: SessionData): Promise<void>;
  set(sid: string, session: SessionData, callback: (error?: any) => void): void;
  touch(sid: string, session: SessionData): Promise<void>;
  touch(sid: string, session: SessionData, callback: (error?: any) => void): void;
  destroy(sid: string): Promise<void>;
  destroy(sid: string, callback: (error?: any) => void): void;
  /**
   * Lists live sessions. Each one's `id` is the id as the table stores it: with hashed ids (the
   * default) the hash of the session id, not the cookie's id; give it to `destroyStoredId`.
   */
  all(): Promise<ListedSessionData[]>;
  all(callback: Callback<ListedSessionData[]>): void;
  /**
   * Destroys the session `all()` listed with this `id` (with hashed ids, the stored hash: `destroy`
   * takes the cookie's id and would hash it again). Never reads or writes a session: a stored id
   * does not work as a session id.
   */
  destroyStoredId(id: string): Promise<void>;
  destroyStoredId(id: string, callback: (error?: any) => void): void;
  length(): Promise<number>;
  length(callback: Callback<number>): void;
  clear(): Promise<void>;
  clear(callback: (error?: any) => void): void;
  /**
   * Deletes expired sessions now; resolves with (or calls back with) how many. On a partitioned
   * table it drops the partitions of dead sessions (counted as the planner's statistics estimate
   * their rows) and creates the next ones; see docs/scaling.md.
   */
  pruneSessions(): Promise<number>;
  pruneSessions(callback: Callback<number>): void;
  /**
   * The user's live sessions (the `userId` option says whose a session is), latest activity
   * first: each with a handle to show and to revoke it by. Needs a schema 3 table (`npx
   * connect-pg-simple migrate`); rejects with a SchemaError before.
   */
  userSessions(userId: string | number): Promise<UserSession[]>;
  userSessions(userId: string | number, callback: Callback<UserSession[]>): void;
  /**
   * The handle of the session with this id (`req.sessionID`), as `userSessions` lists it: to
   * mark "this device". Synchronous; never the id itself.
   */
  sessionHandle(sid: string): string;
  /**
   * Revokes every session of the user ("log out everywhere"), or all but `except` ("log out
   * other devices"); resolves with how many live sessions it revoked. Final like `destroy`: a
   * request of a revoked session still in flight cannot bring it back.
   */
  destroyUserSessions(userId: string | number, options?: DestroyUserSessionsOptions): Promise<number>;
  destroyUserSessions(userId: string | number, callback: Callback<number>): void;
  destroyUserSessions(userId: string | number, options: DestroyUserSessionsOptions, callback: Callback<number>): void;
  /**
   * Revokes the session with this handle ("sign out this device"); resolves with whether it
   * did. With `userId`, only a session of that user: pass it whenever a user names the handle.
   */
  destroySession(handle: string, options?: DestroySessionOptions): Promise<boolean>;
  destroySession(handle: string, callback: Callback<boolean>): void;
  destroySession(handle: string, options: DestroySessionOptions, callback: Callback<boolean>): void;
  /** Stops pruning, waits for operations in flight, and ends a pool the store created itself. */
  close(): Promise<void>;
}

/** The store as express-session sees it. */
export type ExpressPGStore = ExpressSessionStore & PGStoreMethods;

export interface ExpressPGStoreConstructor {
  new (options?: PGStoreOptions): ExpressPGStore;
}

type EmitterConstructor = new (...args: any[]) => EventEmitter;

/**
 * Builds the store class on a given base: express-session's (or Connect's) `Store`, or a plain
 * EventEmitter for @fastify/session and direct use.
 */
export function createStoreClass<TBase extends EmitterConstructor>(Base: TBase, settings: CoreSettings) {
  return class PGStore extends Base implements PGStoreMethods {
    readonly #core: SessionCore;

    constructor(...args: any[]) {
      const options = resolveOptions(args[0]);
      super();
      this.#core = new ObservedCore(options, settings, this);
    }

    get(sid: string): Promise<SessionData | null>;
    get(sid: string, callback: Callback<SessionData | null>): void;
    get(sid: string, callback?: Callback<SessionData | null>): Promise<SessionData | null> | undefined {
      return settle(() => this.#get(sid) as Promise<SessionData | null>, callback, 'get');
    }

    /**
     * A session handed to a request, its receipt attached (see load-receipt.ts): the framework's
     * writes carry it back. Its cookie's `expires` tells when the database will end it: a lazy
     * touch moves the row's expiry without rewriting the stored text, so the stored value may be older.
     */
    #get(sid: string): Promise<SessionObject | null> {
      return this.#core.load(sid).then(this.#handedOut);
    }

    readonly #handedOut = (loaded: LoadedSession | null): SessionObject | null => {
      if (loaded === null) return null;
      const { session, receipt } = loaded;
      attachReceipt(session, receipt);
      const cookie = session.cookie as { expires?: unknown } | undefined;
      // Only when the cookie decides the lifetime: with `ttl`, the row's expiry is not the cookie's.
      if (this.#core.options.ttl === undefined && typeof cookie?.expires === 'string') {
        cookie.expires = new Date(this.#core.expiresAtMs(receipt)).toISOString();
      }
      return session;
    };

    set(sid: string, session: SessionData): Promise<void>;
    set(sid: string, session: SessionData, callback: (error?: any) => void): void;
    set(sid: string, session: SessionData, callback?: (error?: any) => void): Promise<void> | undefined {
      return settle(() => this.#set(sid, session as unknown as SessionObject), callback, 'set');
    }

    /** A session the request loaded carries its receipt: only an update. A new one gets the receipt of its write. */
    #set(sid: string, session: SessionObject): Promise<void> {
      const given = isObject(session) ? receiptFor(session, sid) : undefined;
      return this.#core.save(sid, session, given, cookieLifetime(session)).then((written) => {
        // A new session: this request's next writes update it only.
        if (given === undefined) bindReceipt(session, written);
      });
    }

    touch(sid: string, session: SessionData): Promise<void>;
    touch(sid: string, session: SessionData, callback: (error?: any) => void): void;
    touch(sid: string, session: SessionData, callback?: (error?: any) => void): Promise<void> | undefined {
      const receipt = isObject(session) ? receiptFor(session, sid) : undefined;
      const lifetime = cookieLifetime(session);
      return settle(
        () => this.#core.refresh(sid, session as unknown as SessionObject, receipt, lifetime),
        callback,
        'touch',
      );
    }

    destroy(sid: string): Promise<void>;
    destroy(sid: string, callback: (error?: any) => void): void;
    destroy(sid: string, callback?: (error?: any) => void): Promise<void> | undefined {
      return settle(() => this.#core.destroy(sid), callback, 'destroy');
    }

    all(): Promise<ListedSessionData[]>;
    all(callback: Callback<ListedSessionData[]>): void;
    all(callback?: Callback<ListedSessionData[]>): Promise<ListedSessionData[]> | undefined {
      const listed = () =>
        this.#core
          .all()
          .then((rows) => rows.map(({ sid, session }) => ({ ...session, id: sid }) as unknown as ListedSessionData));
      return settle(listed, callback, 'all');
    }

    destroyStoredId(id: string): Promise<void>;
    destroyStoredId(id: string, callback: (error?: any) => void): void;
    destroyStoredId(id: string, callback?: (error?: any) => void): Promise<void> | undefined {
      return settle(() => this.#core.destroyStoredId(id), callback, 'destroyStoredId');
    }

    length(): Promise<number>;
    length(callback: Callback<number>): void;
    length(callback?: Callback<number>): Promise<number> | undefined {
      return settle(() => this.#core.length(), callback, 'length');
    }

    clear(): Promise<void>;
    clear(callback: (error?: any) => void): void;
    clear(callback?: (error?: any) => void): Promise<void> | undefined {
      return settle(() => this.#core.clear(), callback, 'clear');
    }

    pruneSessions(): Promise<number>;
    pruneSessions(callback: Callback<number>): void;
    pruneSessions(callback?: Callback<number>): Promise<number> | undefined {
      return settle(() => this.#core.prune(), callback, 'pruneSessions');
    }

    userSessions(userId: string | number): Promise<UserSession[]>;
    userSessions(userId: string | number, callback: Callback<UserSession[]>): void;
    userSessions(userId: string | number, callback?: Callback<UserSession[]>): Promise<UserSession[]> | undefined {
      return settle(() => this.#core.userSessions(userId), callback, 'userSessions');
    }

    sessionHandle(sid: string): string {
      return this.#core.sessionHandle(sid);
    }

    destroyUserSessions(userId: string | number, options?: DestroyUserSessionsOptions): Promise<number>;
    destroyUserSessions(userId: string | number, callback: Callback<number>): void;
    destroyUserSessions(userId: string | number, options: DestroyUserSessionsOptions, callback: Callback<number>): void;
    destroyUserSessions(
      userId: string | number,
      given?: OptionsOrCallback<DestroyUserSessionsOptions, number>,
      callback?: Callback<number>,
    ): Promise<number> | undefined {
      const [options, done] = optionsAndCallback(given, callback, 'destroyUserSessions');
      return settle(() => this.#core.destroyUserSessions(userId, options?.except), done, 'destroyUserSessions');
    }

    destroySession(handle: string, options?: DestroySessionOptions): Promise<boolean>;
    destroySession(handle: string, callback: Callback<boolean>): void;
    destroySession(handle: string, options: DestroySessionOptions, callback: Callback<boolean>): void;
    destroySession(
      handle: string,
      given?: OptionsOrCallback<DestroySessionOptions, boolean>,
      callback?: Callback<boolean>,
    ): Promise<boolean> | undefined {
      const [options, done] = optionsAndCallback(given, callback, 'destroySession');
      return settle(() => this.#core.destroySession(handle, options), done, 'destroySession');
    }

    close(): Promise<void> {
      return this.#core.close();
    }
  };
}

/** The store on a plain EventEmitter: for @fastify/session, or direct use. */
export interface PGStore extends EventEmitter, PGStoreMethods {}

export interface PGStoreConstructor {
  new (options?: PGStoreOptions): PGStore;
  readonly prototype: PGStore;
}

/** What express-session's `Store` adds to an EventEmitter: the store class builds its sessions. */
interface ExpressSessionStoreBase {
  createSession(req: unknown, session: object): object;
}

const PlainPGStore = createStoreClass(EventEmitter, { requireCookie: false }) as unknown as PGStoreConstructor;

export const PGStore: PGStoreConstructor = class PGStore extends PlainPGStore {
  /**
   * express-session sets `store.generate` on the store it is given. This class lacks what
   * express-session needs of a store (`createSession`, `regenerate`, `load`), so that would work for
   * one request and then fail: refuse it at once, saying what to use.
   */
  set generate(_generate: unknown) {
    throw typeError(
      'ERR_INVALID_ARG',
      'connect-pg-simple: the named export PGStore is for @fastify/session and direct use. With express-session, use the class the default export makes: `const PGStore = require("connect-pg-simple")(session)` (ESM: `import connectPgSimple from "connect-pg-simple"; const PGStore = connectPgSimple(session)`)',
    );
  }
};

const expressStoreClasses = new WeakMap<object, ExpressPGStoreConstructor>();

/** The store on express-session's `Store`: one class per Store base, made on first request. */
export function expressStoreClass(Store: EmitterConstructor): ExpressPGStoreConstructor {
  let StoreClass = expressStoreClasses.get(Store);
  if (StoreClass === undefined) {
    const Base = createStoreClass(Store, { requireCookie: true }) as unknown as new (
      ...args: any[]
    ) => ExpressSessionStoreBase;
    StoreClass = class PGStore extends Base {
      /** express-session copies a loaded session into its own `Session`: the copy carries the load's receipt. */
      override createSession(req: unknown, loaded: object): object {
        const receipt = receiptOf(loaded);
        const session = super.createSession(req, loaded);
        if (receipt !== undefined) bindReceipt(session, receipt);
        return session;
      }
    } as unknown as ExpressPGStoreConstructor;
    expressStoreClasses.set(Store, StoreClass);
  }
  return StoreClass;
}
