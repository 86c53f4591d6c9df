import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CorruptSessionError, decodeSession, encodeSession } from './codec.js';
import type { Database, Row } from './drivers/database.js';
import { openDatabase } from './drivers/open.js';
import { sessionLifetimeSeconds, touchWindowSeconds } from './expiry.js';
import { attachReceipt, bindReceipt, type LoadReceipt, receiptFor } from './load-receipt.js';
import { DEFAULTS, type ResolvedOptions, type SessionObject } from './options.js';
import { PruneSchedule } from './pruner.js';
import { DEFAULT_READ_CACHE_LIMITS, ReadCache } from './read-cache.js';
import { redactForLog } from './redact.js';
import { ReplicaReads } from './replica-reads.js';
import { ensureTable } from './schema/ensure.js';
import { diffSessions, type SessionChange } from './session-diff.js';
import {
  PRUNE_FROM_START,
  replicaStatements,
  type Statement,
  type StoreStatements,
  storeStatements,
  type TableNames,
  tableNames,
} from './sql.js';
import { type Deadline, OperationsInFlight } from './time-limit.js';

const EXPIRY_ONLY: SessionChange = { kind: 'expiry' };

/** Longest session id accepted, in UTF-8 bytes: far above any generator's, far below the index limit. */
const MAX_SID_BYTES = 1024;

export interface CoreSettings {
  /** Treat a stored session without a `cookie` object as corrupt (express-session would crash on it). */
  readonly requireCookie: boolean;
  /** A monotonic clock in milliseconds, for tests; default `performance.now`. */
  readonly now?: () => number;
}

export interface ListedSession {
  readonly sid: string;
  readonly session: SessionObject;
}

export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
  constructor() {
    super('connect-pg-simple: the store is closed');
  }
}

function checkSid(sid: unknown): asserts sid is string {
  if (typeof sid !== 'string' || sid.length === 0) {
    throw new TypeError(
      `connect-pg-simple: a session id must be a non-empty string, got ${sid === '' ? 'an empty string' : typeof sid}`,
    );
  }
  if (sid.includes('\0')) throw new TypeError('connect-pg-simple: a session id must not contain NUL characters');
  if (!(sid as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new TypeError('connect-pg-simple: a session id must be well-formed Unicode (it has a lone surrogate)');
  }
  if (sid.length > MAX_SID_BYTES / 3 && Buffer.byteLength(sid) > MAX_SID_BYTES) {
    throw new TypeError(`connect-pg-simple: a session id must be at most ${MAX_SID_BYTES} bytes long`);
  }
}

function checkSessionObject(session: unknown): asserts session is SessionObject {
  if (typeof session !== 'object' || session === null || Array.isArray(session)) {
    throw new TypeError('connect-pg-simple: a session must be an object');
  }
}

/**
 * The store's behaviour, free of any web framework: promises in, promises out. `store.ts`
 * adapts it to express-session's Store and to callbacks.
 */
export class SessionCore {
  readonly options: ResolvedOptions;
  readonly names: TableNames;
  readonly #statements: StoreStatements;
  readonly #db: Database;
  readonly #settings: CoreSettings;
  /** The opt-in `readCache`; undefined when it is off, as by default. */
  readonly #readCache: ReadCache | undefined;
  /** The opt-in `readPool`; undefined when it is off, as by default. */
  readonly #replica: ReplicaReads | undefined;
  readonly #now: () => number;
  readonly #pruneSchedule: PruneSchedule;
  readonly #inFlight: OperationsInFlight;
  #ready: Promise<void> | undefined;
  #isReady = false;
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedOptions, settings: CoreSettings) {
    this.options = options;
    this.#settings = settings;
    this.#now = settings.now ?? (() => performance.now());
    this.#readCache =
      options.readCacheMs === false
        ? undefined
        : new ReadCache({ ...DEFAULT_READ_CACHE_LIMITS, maxAgeMs: options.readCacheMs }, this.#now);
    this.names = tableNames(options.tableName, options.schemaName);
    this.#inFlight = new OperationsInFlight(options.operationTimeoutMs);
    this.#statements = storeStatements(this.names, { synchronousCommit: options.synchronousCommit });
    this.#db = openDatabase(options.driver, {
      pipeline: options.pipeline,
      preparedStatements: options.preparedStatements,
      // A cancelled statement ends at once; one that does not is on a connection to close.
      cancelGraceMs: options.operationTimeoutMs === false ? 0 : options.operationTimeoutMs,
      timeoutMs: options.operationTimeoutMs,
      onPoolError: (error) => this.#log('connect-pg-simple: idle database connection failed:', error),
    });
    this.#replica = this.#openReplica();
    this.#pruneSchedule = new PruneSchedule(
      options.pruneIntervalMs,
      options.pruneDelay,
      () => this.#pruneCounted(),
      (error) => this.#log('connect-pg-simple: failed to prune sessions:', error),
    );
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  async get(sid: string): Promise<SessionObject | null> {
    const cache = this.#readCache;
    if (cache !== undefined && this.#isReady && !this.closed) {
      checkSid(sid);
      const cached = cache.recall(sid);
      if (cached !== undefined) {
        const now = this.#now();
        return this.#loadedSession(sid, cached.text, (cached.aliveUntil - now) / 1000, now);
      }
    }
    const deadline = this.#begin('get()');
    try {
      if (!this.#isReady) await this.#whenReady();
      checkSid(sid);
      const startedFrom = cache?.peek(sid);
      const sentAt = this.#now();
      const row =
        this.#replica === undefined
          ? (await this.#query(this.#statements.get, [sid], deadline))[0]
          : await this.#readFromReplica(this.#replica, sid, deadline);
      if (row === undefined) return null;
      const remainingSeconds = Number(row.remaining);
      const session = this.#loadedSession(sid, row.sess, remainingSeconds, sentAt);
      if (session !== null) cache?.rememberRead(sid, row.sess as string, remainingSeconds, sentAt, startedFrom);
      return session;
    } finally {
      this.#inFlight.end(deadline);
    }
  }

  /**
   * A stored session handed to a request, with the receipt its writes will carry. Its cookie's
   * `expires` tells when the database will end it: a lazy touch moves the row's expiry without
   * rewriting the stored text, so the stored value may be older.
   */
  #loadedSession(sid: string, text: unknown, remainingSeconds: number, at: number): SessionObject | null {
    const session = this.#sessionFrom(text);
    if (session === null) return null;
    attachReceipt(session, { sid, text: text as string, remainingSeconds, at });
    const cookie = session.cookie as { expires?: unknown } | undefined;
    // Only when the cookie decides the lifetime: with `ttl`, the row's expiry is not the cookie's.
    if (this.options.ttl === undefined && typeof cookie?.expires === 'string') {
      // The remaining time was measured when the statement was sent: count from that moment.
      const sentAtWallClock = Date.now() - (this.#now() - at);
      cookie.expires = new Date(sentAtWallClock + remainingSeconds * 1000).toISOString();
    }
    return session;
  }

  /** A stored session's text as a session; a corrupt one is logged and treated as missing. */
  #sessionFrom(text: unknown): SessionObject | null {
    try {
      const session = decodeSession(text);
      if (this.#settings.requireCookie && (typeof session.cookie !== 'object' || session.cookie === null)) {
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
   * Writes a session. One a request loaded (it carries that request's receipt) is only updated,
   * and only while its row is alive: a session destroyed or expired meanwhile stays gone; and only
   * the top-level keys the request changed are written, so concurrent requests keep each other's
   * changes. One without a receipt is new, and is inserted (or replaces a row with its id, as in 10.x).
   */
  async set(sid: string, session: SessionObject): Promise<void> {
    const deadline = this.#begin('set()');
    try {
      if (!this.#isReady) await this.#whenReady();
      checkSid(sid);
      const text = encodeSession(session, this.options.maxSessionSize);
      const lifetime = this.#lifetime(session);
      const receipt = receiptFor(session, sid);
      const startedFrom = this.#readCache?.peek(sid);
      const sentAt = this.#now();
      if (receipt === undefined) {
        await this.#write(sid, this.#statements.upsert, [sid, text, lifetime], deadline);
        bindReceipt(session, { sid, text, remainingSeconds: lifetime, at: sentAt });
        this.#readCache?.rememberWrite(sid, text, lifetime, sentAt, startedFrom);
        return;
      }
      const change = receipt.text === text ? EXPIRY_ONLY : diffSessions(receipt.text, text);
      if (change.kind === 'expiry') {
        // Only the cookie's expiry changed: that is a touch.
        const enough = this.#enoughSeconds(lifetime);
        if (this.#secondsLeft(receipt) >= enough) return;
        await this.#write(sid, this.#statements.touch, [sid, enough, lifetime], deadline);
        // The touch may have found the row with enough time and written nothing: only that is sure.
        receipt.remainingSeconds = enough;
        receipt.at = sentAt;
        return;
      }
      if (change.kind === 'keys') {
        const values = [sid, change.set, change.replaced, lifetime];
        await this.#write(sid, this.#statements.updateKeys, values, deadline);
      } else {
        await this.#write(sid, this.#statements.update, [sid, text, lifetime], deadline);
      }
      receipt.text = text;
      receipt.remainingSeconds = lifetime;
      receipt.at = sentAt;
      // The row may now hold other requests' keys too: this process's next get reads it.
      this.#readCache?.forget(sid);
    } finally {
      this.#inFlight.end(deadline);
    }
  }

  async touch(sid: string, session: SessionObject): Promise<void> {
    const deadline = this.#begin('touch()');
    try {
      if (!this.#isReady) await this.#whenReady();
      checkSid(sid);
      checkSessionObject(session);
      if (this.options.disableTouch) return;
      const lifetime = this.#lifetime(session);
      const receipt = receiptFor(session, sid);
      const enough = this.#enoughSeconds(lifetime);
      if (receipt !== undefined && this.#secondsLeft(receipt) >= enough) return;
      // The statement writes only when the row has less than `enough` left, and never to a row
      // that is gone or expired.
      const sentAt = this.#now();
      await this.#write(sid, this.#statements.touch, [sid, enough, lifetime], deadline);
      // Written or not, the row now has at least `enough` left, if it still exists.
      if (receipt !== undefined) {
        receipt.remainingSeconds = enough;
        receipt.at = sentAt;
      }
    } finally {
      this.#inFlight.end(deadline);
    }
  }

  destroy(sid: string): Promise<void> {
    return this.#operation('destroy()', async (deadline) => {
      checkSid(sid);
      this.#readCache?.forget(sid);
      await this.#write(sid, this.#statements.destroy, [sid], deadline);
      // Again: a read sent before the delete committed may have cached the row meanwhile.
      this.#readCache?.forget(sid);
    });
  }

  all(): Promise<ListedSession[]> {
    return this.#operation('all()', async (deadline) => {
      const rows = await this.#query(this.#statements.all, [], deadline);
      const sessions: ListedSession[] = [];
      for (const row of rows) {
        try {
          sessions.push({ sid: row.sid as string, session: decodeSession(row.sess) });
        } catch (error) {
          if (!(error instanceof CorruptSessionError)) throw error;
          this.#log('connect-pg-simple: a stored session is corrupt and was left out:', error);
        }
      }
      return sessions;
    });
  }

  length(): Promise<number> {
    return this.#operation('length()', async (deadline) => {
      const [row] = await this.#query(this.#statements.length, [], deadline);
      return Number(row?.n ?? 0);
    });
  }

  clear(): Promise<void> {
    return this.#operation('clear()', async (deadline) => {
      this.#readCache?.clear();
      try {
        await this.#query(this.#statements.clear, [], deadline);
      } finally {
        this.#replica?.wroteAll();
      }
      this.#readCache?.clear();
    });
  }

  /** Deletes expired sessions; resolves with how many. The next automatic prune is one interval away. */
  async prune(): Promise<number> {
    try {
      if (this.closed) throw new StoreClosedError();
      return await this.#pruneCounted();
    } finally {
      this.#pruneSchedule.reschedule();
    }
  }

  /** Stops pruning, waits for work in flight, and ends the connections the store opened. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#pruneSchedule.stop();
      this.#replica?.stop();
      await this.#inFlight.whenIdle();
      await Promise.all([this.#db.close(), this.#replica?.close()]);
    })();
    return this.#closing;
  }

  /** A prune, counted as in flight; each batch has its own time limit, as a backlog may take many. */
  async #pruneCounted(): Promise<number> {
    const untimed = this.#inFlight.begin('pruning sessions', false);
    try {
      return await this.#prune();
    } finally {
      this.#inFlight.end(untimed);
    }
  }

  async #prune(): Promise<number> {
    if (!this.#isReady) await this.#whenReady();
    const batchSize = this.options.pruneBatchSize;
    let total = 0;
    let from = PRUNE_FROM_START;
    for (;;) {
      const values = [batchSize, this.names.qualified, this.options.pruneLock, from];
      const deadline = this.#inFlight.begin('pruning sessions');
      let row: Row | undefined;
      try {
        [row] = await this.#query(this.#statements.pruneBatch, values, deadline);
      } finally {
        this.#inFlight.end(deadline);
      }
      // Another instance holds the prune lock: it is doing this work now.
      if (row?.held !== true) break;
      const deleted = Number(row.deleted);
      total += deleted;
      if (typeof row.upto === 'string') from = row.upto;
      if (deleted < batchSize || this.closed) break;
      await nextTurn();
    }
    return total;
  }

  /**
   * Lazy touch: a row with at least this many seconds left needs no write. A write stores exactly
   * the lifetime, so a session never outlives its idle timeout; skipping touches while the row has
   * `lifetime - window` left lets it end early by at most the window (a tenth of the lifetime at
   * most, `touchAfter` seconds by default), never late.
   */
  #enoughSeconds(lifetimeSeconds: number): number {
    if (this.options.disableTouch) return lifetimeSeconds;
    return lifetimeSeconds - touchWindowSeconds(lifetimeSeconds, this.options.touchAfterSeconds);
  }

  /** Seconds the row had left, by what this request's receipt says, aged on this process's clock. */
  #secondsLeft(receipt: LoadReceipt): number {
    return receipt.remainingSeconds - (this.#now() - receipt.at) / 1000;
  }

  #lifetime(session: SessionObject): number {
    const lifetime = sessionLifetimeSeconds(session, this.options.ttl, DEFAULTS.ttlSeconds);
    if (!Number.isFinite(lifetime)) {
      throw new TypeError(`connect-pg-simple: session lifetime must be a finite number of seconds, got ${lifetime}`);
    }
    return lifetime;
  }

  /**
   * An operation that is not on the hot path: `get`, `set` and `touch` inline the same steps
   * (begin, wait for the table check, end) rather than pay for a closure on every call.
   */
  async #operation<T>(what: string, work: (deadline: Deadline | undefined) => Promise<T>): Promise<T> {
    const deadline = this.#begin(what);
    try {
      if (!this.#isReady) await this.#whenReady();
      return await work(deadline);
    } finally {
      this.#inFlight.end(deadline);
    }
  }

  /** Starts an operation: counted in flight until `#inFlight.end`, under the time limit. */
  #begin(what: string): Deadline | undefined {
    if (this.closed) throw new StoreClosedError();
    this.#pruneSchedule.start();
    return this.#inFlight.begin(what);
  }

  /** A write of `sid`: with `readPool`, its end is remembered, so that this process reads it back. */
  #write(
    sid: string,
    statement: Statement,
    values: readonly unknown[],
    deadline: Deadline | undefined,
  ): Promise<Row[]> {
    const written = this.#query(statement, values, deadline);
    const replica = this.#replica;
    return replica === undefined ? written : written.finally(() => replica.wrote(sid));
  }

  /** `get`'s row from a replica when one may answer; from the primary on a miss or any doubt. */
  async #readFromReplica(replica: ReplicaReads, sid: string, deadline: Deadline | undefined): Promise<Row | undefined> {
    if (deadline?.expired !== undefined) throw deadline.expired;
    const values = [sid];
    const row = await replica.read(sid, values, deadline);
    return row ?? (await this.#query(this.#statements.get, values, deadline))[0];
  }

  /** `readPool`'s reads, on a database of their own; writes and everything else stay on the primary. */
  #openReplica(): ReplicaReads | undefined {
    const options = this.options;
    if (options.readDriver === undefined) return undefined;
    const replica = openDatabase(options.readDriver, {
      pipeline: false,
      preparedStatements: options.preparedStatements,
      cancelGraceMs: options.operationTimeoutMs === false ? 0 : options.operationTimeoutMs,
      timeoutMs: options.operationTimeoutMs,
      onPoolError: (error) => this.#log('connect-pg-simple: idle readPool connection failed:', error),
    });
    return new ReplicaReads({
      replica,
      primary: this.#db,
      statements: replicaStatements(this.#statements.get),
      inFlight: this.#inFlight,
      now: this.#now,
      log: (...args) => this.#log(...args),
    });
  }

  /** One statement, unless the operation's time ran out before it could start. */
  #query(statement: Statement, values: readonly unknown[], deadline: Deadline | undefined): Promise<Row[]> {
    if (deadline?.expired !== undefined) return Promise.reject(deadline.expired);
    return this.#db.query(statement, values, deadline);
  }

  #whenReady(): Promise<void> {
    this.#ready ??= this.#checkTable().then(
      () => {
        this.#isReady = true;
      },
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    return this.#ready;
  }

  async #checkTable(): Promise<void> {
    const deadline = this.#inFlight.begin('checking the session table');
    try {
      await ensureTable(this.#db, this.#statements, this.names, this.options.createTableIfMissing, deadline);
    } finally {
      this.#inFlight.end(deadline);
    }
  }

  #log(...args: unknown[]): void {
    try {
      this.options.errorLog(...args.map(redactForLog));
    } catch {
      // A throwing logger must not turn a logged error into a crash.
    }
  }
}
