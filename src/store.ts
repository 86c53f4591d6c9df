import { EventEmitter } from 'node:events';
import type { Store as ExpressSessionStore, SessionData } from 'express-session';
import { type Callback, settle } from './callbacks.js';
import { type CoreSettings, SessionCore } from './core.js';
import { type PGStoreOptions, resolveOptions, type SessionObject } from './options.js';

/** A stored session as `all()` lists it: the session's data and its id. */
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
  all(): Promise<ListedSessionData[]>;
  all(callback: Callback<ListedSessionData[]>): void;
  length(): Promise<number>;
  length(callback: Callback<number>): void;
  clear(): Promise<void>;
  clear(callback: (error?: any) => void): void;
  /** Deletes expired sessions now; resolves with (or calls back with) how many. */
  pruneSessions(): Promise<number>;
  pruneSessions(callback: Callback<number>): void;
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
      this.#core = new SessionCore(options, settings);
    }

    get(sid: string): Promise<SessionData | null>;
    get(sid: string, callback: Callback<SessionData | null>): void;
    get(sid: string, callback?: Callback<SessionData | null>): Promise<SessionData | null> | undefined {
      return settle(() => this.#core.get(sid) as Promise<SessionData | null>, callback, 'get');
    }

    set(sid: string, session: SessionData): Promise<void>;
    set(sid: string, session: SessionData, callback: (error?: any) => void): void;
    set(sid: string, session: SessionData, callback?: (error?: any) => void): Promise<void> | undefined {
      return settle(() => this.#core.set(sid, session as unknown as SessionObject), callback, 'set');
    }

    touch(sid: string, session: SessionData): Promise<void>;
    touch(sid: string, session: SessionData, callback: (error?: any) => void): void;
    touch(sid: string, session: SessionData, callback?: (error?: any) => void): Promise<void> | undefined {
      return settle(() => this.#core.touch(sid, session as unknown as SessionObject), callback, 'touch');
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

export const PGStore: PGStoreConstructor = createStoreClass(EventEmitter, { requireCookie: false });

const expressStoreClasses = new WeakMap<object, ExpressPGStoreConstructor>();

/** The store on express-session's `Store`: one class per Store base, made on first request. */
export function expressStoreClass(Store: EmitterConstructor): ExpressPGStoreConstructor {
  let StoreClass = expressStoreClasses.get(Store);
  if (StoreClass === undefined) {
    StoreClass = createStoreClass(Store, { requireCookie: true }) as unknown as ExpressPGStoreConstructor;
    expressStoreClasses.set(Store, StoreClass);
  }
  return StoreClass;
}
