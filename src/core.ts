import { performance } from 'node:perf_hooks';
import { foundIn, type ListedSession, type LoadedSession, SessionCodec } from './codec.js';
import type { Database } from './drivers/database.js';
import { openDatabase } from './drivers/open.js';
import { SessionCipher } from './encryption.js';
import { StoreClosedError } from './errors.js';
import type { FrameworkLifetime } from './expiry.js';
import type { LoadReceipt } from './load-receipt.js';
import type { ResolvedOptions } from './option-types.js';
import { Pruner } from './pruner.js';
import { ReadPath } from './read-path.js';
import { redactForLog } from './redact.js';
import { checkSessionObject, checkSid } from './session-arguments.js';
import { pepperIdOf } from './session-id.js';
import { type TableNames, tableNames } from './sql.js';
import { TableWatch } from './table-watch.js';
import { type Deadline, OperationsInFlight } from './time-limit.js';
import type { SessionObject } from './types.js';
import { UserOperations } from './user-operations.js';
import type { UserSession } from './user-sessions.js';
import { type RefreshPlan, WritePath } from './write-path.js';

export type { ListedSession, LoadedSession } from './codec.js';

/** What a touch that needs no statement resolves with. */
const DONE: Promise<void> = Promise.resolve();

export interface CoreSettings {
  /** Treat a stored session without a `cookie` object as corrupt (express-session would crash on it). */
  readonly requireCookie: boolean;
  /**
   * A session's `cookie` key is the application's data (the adapters' frameworks keep their
   * cookie elsewhere), compared as any other key. By default it is the framework's cookie
   * (express-session, @fastify/session): a change of its expiry alone is a touch.
   */
  readonly cookieIsData?: boolean;
  /** A monotonic clock in milliseconds, for tests; default `performance.now`. */
  readonly now?: () => number;
}

/**
 * What a framework says of one write that the session object does not: how long the session
 * lives, as a duration or an expiry. The store's `ttl` option wins over it.
 */
export type WriteOptions = FrameworkLifetime;

/**
 * The store's behaviour: promises in, promises out, and the receipt of each load as a value
 * (`load` gives it, `save` and `refresh` take it back). `store.ts` adapts it to express-session's
 * Store, @fastify/session and callbacks; `adapters/` to the other frameworks.
 */
export class SessionCore {
  readonly options: ResolvedOptions;
  readonly names: TableNames;
  /** The table as the last check found it (one snapshot, swapped whole), and its checks. */
  readonly #watch: TableWatch;
  readonly #codec: SessionCodec;
  readonly #db: Database;
  /** Where reads find their rows (readCache, readPool), and every statement its way to the primary. */
  readonly #reads: ReadPath;
  readonly #writes: WritePath;
  /** A user's sessions listed and revoked; a session revoked by its handle or its stored id. */
  readonly #users: UserOperations;
  readonly #now: () => number;
  /** Prunes on request and on its timer. */
  readonly #pruner: Pruner;
  readonly #inFlight: OperationsInFlight;
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedOptions, settings: CoreSettings) {
    this.options = options;
    this.#now = settings.now ?? (() => performance.now());
    this.names = tableNames(options.tableName, options.schemaName);
    this.#inFlight = new OperationsInFlight(options.operationTimeoutMs);
    const log = (...args: unknown[]) => this.#log(...args);
    const pepper = options.sessionIdPepper;
    const cipher = options.encryptionKeys === undefined ? undefined : new SessionCipher(options.encryptionKeys);
    this.#codec = new SessionCodec(cipher, settings.requireCookie, log);
    const db = openDatabase(options.driver, {
      pipeline: options.pipeline,
      preparedStatements: options.preparedStatements,
      timeoutMs: options.operationTimeoutMs,
      name: 'database',
      log,
    });
    this.#db = db;
    const shared = { options, names: this.names, inFlight: this.#inFlight, now: this.#now, log };
    const storeIds = { form: options.idForm, pepperId: pepper === undefined ? undefined : pepperIdOf(pepper) };
    const watch = new TableWatch({ ...shared, db, storeIds, cipher });
    this.#watch = watch;
    this.#reads = new ReadPath({
      ...shared,
      primary: db,
      getStatement: () => watch.table.statements.get,
      checkedTable: () => (watch.isReady ? watch.table : undefined),
    });
    this.#writes = new WritePath({
      ...shared,
      reads: this.#reads,
      codec: this.#codec,
      cookieIsData: settings.cookieIsData ?? false,
    });
    this.#users = new UserOperations({ ...shared, watch, reads: this.#reads });
    this.#pruner = new Pruner({
      ...shared,
      db,
      watch,
      stopRequested: () => this.closed,
      onSchedule: () => this.pruneOnSchedule(),
      onError: (error) => log('connect-pg-simple: failed to prune sessions:', error),
    });
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** When a loaded session's row ends, by the database's clock: a wall-clock time in ms. */
  expiresAtMs(receipt: LoadReceipt): number {
    // The remaining time was measured when the statement was sent: count from that moment.
    const sentAtWallClock = Date.now() - (this.#now() - receipt.at);
    return sentAtWallClock + receipt.remainingSeconds * 1000;
  }

  /** A stored session, with the receipt of this load: the request's writes give it back to `save`. */
  async load(sid: string): Promise<LoadedSession | null> {
    try {
      if (this.#reads.cache !== undefined && this.#watch.isReady && !this.closed) {
        checkSid(sid);
        const recalled = this.#reads.recall(sid);
        if (recalled !== undefined) return this.#codec.loaded(sid, recalled.text, this.#watch.table.ids, recalled);
      }
      // Named as the store's users call it, in a TimeoutError's message: get(), set(), touch().
      const deadline = this.#begin('get()');
      try {
        if (!this.#watch.isReady) await this.#watch.whenReady();
        checkSid(sid);
        const table = this.#watch.table;
        const startedFrom = this.#reads.cache?.peek(sid);
        const id = table.ids.parameter(sid);
        const sentAt = this.#now();
        const [row] = await this.#reads.getRows(table.statements.get, id, deadline);
        this.settled(true);
        if (row === undefined) return null;
        const found = foundIn(row, sentAt);
        const loaded = this.#codec.loaded(sid, row.sess, table.ids, found);
        if (loaded === null) return null;
        const stored = loaded.boundElsewhere
          ? await this.#writes.rebind(table, sid, loaded.receipt, deadline)
          : (row.sess as string);
        this.#reads.rememberRead(sid, id, stored, found, startedFrom);
        return loaded;
      } finally {
        this.#inFlight.end(deadline);
      }
    } catch (error) {
      this.settled(false, error);
      throw error;
    }
  }

  /**
   * Writes a session, and resolves with the receipt its request's next write carries. With the
   * receipt of its load (`receipt`, which is brought up to date), only an update, and only while
   * its row is alive: a session destroyed or expired meanwhile stays gone; and only the top-level
   * keys the request changed are written, so concurrent requests keep each other's changes.
   * Without one, the session is new, and is inserted (or replaces a row with its id, as in 10.x);
   * so is a session given the receipt of another id (a regenerated session keeps the old one).
   */
  async save(
    sid: string,
    session: SessionObject,
    given: LoadReceipt | undefined,
    write?: WriteOptions,
  ): Promise<LoadReceipt> {
    const receipt = given?.sid === sid ? given : undefined;
    try {
      const deadline = this.#begin('set()');
      try {
        if (!this.#watch.isReady) await this.#watch.whenReady();
        checkSid(sid);
        // One snapshot for the whole write: a table check between two of its statements may swap it.
        const written = await this.#writes.save(this.#watch.table, sid, session, receipt, write, deadline);
        this.settled(true);
        return written;
      } finally {
        this.#inFlight.end(deadline);
      }
    } catch (error) {
      this.settled(false, error);
      throw error;
    }
  }

  /**
   * The handle of the session with this id, as `userSessions` lists it: the id's stored hash
   * (or, with `hashSessionIds: false`, its SHA-256), never the id itself.
   */
  sessionHandle(sid: string): string {
    return this.#users.sessionHandle(sid);
  }

  /** The user's live sessions, latest activity first. */
  userSessions(userId: string | number): Promise<UserSession[]> {
    return this.#operation('userSessions()', (deadline) => this.#users.userSessions(userId, deadline));
  }

  /**
   * Revokes every session of the user, but the one `except` names (its session id or its
   * handle); resolves with how many live sessions it revoked. Final like `destroy`.
   */
  destroyUserSessions(userId: string | number, except?: string): Promise<number> {
    return this.#operation('destroyUserSessions()', (deadline) =>
      this.#users.destroyUserSessions(userId, except, deadline),
    );
  }

  /** Revokes the session with this handle (only if it is `userId`'s, when given); whether it did. */
  destroySession(handle: string, options: { readonly userId?: unknown } = {}): Promise<boolean> {
    return this.#operation('destroySession()', (deadline) => this.#users.destroySession(handle, options, deadline));
  }

  /**
   * Extends a session's life, writing only when its row needs it (a lazy touch: see
   * write-path.ts). A touch that needs no statement, the usual one, is decided at once: no time
   * limit, nothing in flight, no promise of its own.
   */
  refresh(sid: string, session: SessionObject, given: LoadReceipt | undefined, write?: WriteOptions): Promise<void> {
    const receipt = given?.sid === sid ? given : undefined;
    if (receipt === undefined || !this.#watch.isReady || this.closed)
      return this.#refresh(sid, session, receipt, write);
    let plan: RefreshPlan | undefined;
    try {
      checkSid(sid);
      checkSessionObject(session);
      if (!this.options.disableTouch) plan = this.#writes.planRefresh(this.#watch.table, sid, session, receipt, write);
    } catch (error) {
      return Promise.reject(error);
    }
    if (plan !== undefined) return this.#refresh(sid, session, receipt, write, plan);
    this.#pruner.start();
    this.#watch.recheckIfDue();
    return DONE;
  }

  async #refresh(
    sid: string,
    session: SessionObject,
    receipt: LoadReceipt | undefined,
    write: WriteOptions | undefined,
    planned?: RefreshPlan,
  ): Promise<void> {
    try {
      const deadline = this.#begin('touch()');
      try {
        if (!this.#watch.isReady) await this.#watch.whenReady();
        checkSid(sid);
        checkSessionObject(session);
        if (this.options.disableTouch) return;
        const table = this.#watch.table;
        const plan = planned ?? this.#writes.planRefresh(table, sid, session, receipt, write);
        if (plan !== undefined) await this.#writes.refresh(table, sid, plan, receipt, deadline);
        this.settled(true);
      } finally {
        this.#inFlight.end(deadline);
      }
    } catch (error) {
      this.settled(false, error);
      throw error;
    }
  }

  destroy(sid: string): Promise<void> {
    return this.#operation('destroy()', (deadline) => {
      checkSid(sid);
      return this.#writes.destroy(this.#watch.table, sid, deadline);
    });
  }

  /**
   * Destroys the session whose row has this id, as `all()` lists it: with hashed ids, the stored
   * hash (which `destroy` would hash again). Never accepted where a cookie's id goes: a stolen
   * table's ids must not work as session ids.
   */
  destroyStoredId(storedId: string): Promise<void> {
    return this.#operation('destroyStoredId()', (deadline) => this.#users.destroyStoredId(storedId, deadline));
  }

  all(): Promise<ListedSession[]> {
    return this.#operation('all()', async (deadline) => {
      const { statements, ids } = this.#watch.table;
      const rows = await this.#reads.query(statements.all, [], deadline);
      return this.#codec.listed(rows, (sid) => ids.listedBindings(sid));
    });
  }

  length(): Promise<number> {
    return this.#operation('length()', async (deadline) => {
      const [row] = await this.#reads.query(this.#watch.table.statements.length, [], deadline);
      return Number(row?.n ?? 0);
    });
  }

  clear(): Promise<void> {
    return this.#operation('clear()', async (deadline) => {
      const { statements } = this.#watch.table;
      await this.#reads.revoking(() => this.#reads.query(statements.clear, [], deadline));
    });
  }

  /**
   * Deletes expired sessions (partitioned: drops the partitions of dead sessions first, their rows
   * as estimated); resolves with how many. The next automatic prune is one interval away.
   */
  prune(): Promise<number> {
    return this.closed ? Promise.reject(new StoreClosedError()) : this.#pruner.pruneNow();
  }

  /** The prune timer's prune: a method of its own, so that it is traced as `prune()` is. */
  pruneOnSchedule(): Promise<number> {
    return this.#pruner.prune();
  }

  /** Stops pruning, waits for work in flight, and ends the connections the store opened. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#pruner.stop();
      this.#reads.stop();
      await this.#inFlight.whenIdle();
      await Promise.all([this.#db.close(), this.#reads.close()]);
    })();
    return this.#closing;
  }

  /**
   * Told the outcome of each `load`, `save` and `refresh` that reached the database or failed
   * (the observed core watches the connection with it, without a promise of its own per call).
   */
  protected settled(_succeeded: boolean, _error?: unknown): void {}

  /**
   * An operation that is not on the hot path: `load`, `save` and `refresh` inline the same steps
   * (begin, wait for the table check, end) rather than pay for a closure on every call.
   */
  async #operation<T>(what: string, work: (deadline: Deadline | undefined) => Promise<T>): Promise<T> {
    const deadline = this.#begin(what);
    try {
      if (!this.#watch.isReady) await this.#watch.whenReady();
      return await work(deadline);
    } finally {
      this.#inFlight.end(deadline);
    }
  }

  /** Starts an operation: counted in flight until `#inFlight.end`, under the time limit. */
  #begin(what: string): Deadline | undefined {
    if (this.closed) throw new StoreClosedError();
    this.#pruner.start();
    this.#watch.recheckIfDue();
    return this.#inFlight.begin(what);
  }

  #log(...args: unknown[]): void {
    try {
      this.options.errorLog(...args.map(redactForLog));
    } catch {
      // A throwing logger must not turn a logged error into a crash.
    }
  }
}
