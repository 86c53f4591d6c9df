import { type CacheTrust, type CheckedTable, READ_CACHE_BOUND_MS, readCacheTrust } from './cache-trust.js';
import type { FoundRow } from './codec.js';
import { noteReplicaAnswered } from './diagnostics.js';
import type { Database, Row } from './drivers/database.js';
import { openDatabase } from './drivers/open.js';
import type { ResolvedOptions } from './option-types.js';
import { type CachedSession, DEFAULT_READ_CACHE_LIMITS, ReadCache } from './read-cache.js';
import { ReplicaReads } from './replica-reads.js';
import { switchChangeLogStatement } from './schema/change-log.js';
import { type ReplicaStatements, replicaStatements, type Statement, type TableNames } from './sql.js';
import { type IdParameter, rememberedIdOf } from './table-ids.js';
import type { TableSnapshot } from './table-watch.js';
import type { Deadline, OperationsInFlight } from './time-limit.js';

export interface ReadPathSettings {
  readonly options: Pick<
    ResolvedOptions,
    | 'readCacheMs'
    | 'readCacheListens'
    | 'readCacheAsked'
    | 'driver'
    | 'readDriver'
    | 'preparedStatements'
    | 'operationTimeoutMs'
    | 'absoluteTimeoutSeconds'
  >;
  readonly names: TableNames;
  /** The database every write goes to. */
  readonly primary: Database;
  /** The table's `get` statement, as the last table check made it. */
  readonly getStatement: () => Statement;
  /** The table as the last table check found it; undefined before the first. */
  readonly checkedTable: () => CheckedTable | undefined;
  readonly inFlight: OperationsInFlight;
  readonly now: () => number;
  readonly log: (...args: unknown[]) => void;
}

/**
 * Where a `get` finds its row, and what the readers must learn of the writes: this process's
 * `readCache` (trusted by default where the table has the change log), a replica (`readPool`, opt-in) when it is sure to show this process's
 * writes, else the primary. Every statement of the store goes through here to the primary.
 */
export class ReadPath {
  /** The `readCache`; undefined when it is off. */
  readonly cache: ReadCache | undefined;
  /** With the trusted cache: when it may answer (see cache-trust.ts). */
  readonly #trust: CacheTrust | undefined;
  readonly #settings: ReadPathSettings;
  readonly #primary: Database;
  /** The opt-in `readPool`; undefined when it is off, as by default. */
  readonly #replica: ReplicaReads | undefined;
  #replicaStatementsMade: { from: Statement; statements: ReplicaStatements } | undefined;
  #pollsStopped: Promise<void> | undefined;

  constructor(settings: ReadPathSettings) {
    const { options, names, primary, now, log } = settings;
    this.#settings = settings;
    this.#primary = primary;
    const maxAgeMs = options.readCacheListens ? Number.POSITIVE_INFINITY : options.readCacheMs;
    this.cache = maxAgeMs === false ? undefined : new ReadCache({ ...DEFAULT_READ_CACHE_LIMITS, maxAgeMs }, now);
    this.#trust =
      options.readCacheListens && this.cache !== undefined
        ? readCacheTrust(options.driver, {
            cache: this.cache,
            names,
            enableStatement: switchChangeLogStatement(names, true),
            boundMs: READ_CACHE_BOUND_MS,
            now,
            log: options.readCacheAsked ? (message) => log(message) : () => {},
            checkedTable: settings.checkedTable,
          })
        : undefined;
    this.#replica = openReplica(settings, () => this.#replicaStatements(settings.getStatement()));
  }

  /**
   * The session's text as the cache holds it, and its row as a read now would find it, when the
   * cache may answer a `get` for it: with the trusted cache, only while polls of the change log
   * prove it current.
   */
  recall(sid: string): (FoundRow & { readonly text: string }) | undefined {
    const cached = this.cache?.recall(sid);
    if (cached === undefined || !(this.#trust?.allows(cached.readAt) ?? true)) return undefined;
    const now = this.#settings.now();
    return { text: cached.text, remainingSeconds: (cached.aliveUntil - now) / 1000, at: now, userId: cached.userId };
  }

  /**
   * What a read of the row `id` names found (`stored`, sent at `found.at`, the cache's entry being
   * `startedFrom` then), for the cache to remember: unless it must not (see cache-trust.ts).
   */
  rememberRead(
    sid: string,
    id: IdParameter,
    stored: string,
    found: FoundRow,
    startedFrom: CachedSession | undefined,
  ): void {
    const key = this.#trust?.keyToRemember(id, found.at);
    if (key === null) return;
    this.cache?.rememberRead(sid, stored, found.remainingSeconds, found.at, startedFrom, found.userId, key);
  }

  /**
   * After a touch sent at `sentAt`, the row has at least `seconds` left if it was alive when the
   * statement ran (a touch of a row that has expired writes nothing, and is not logged). The
   * statement ran before the operation's deadline, at most `operationTimeout` after `sentAt`: an
   * entry that was to live past that was alive then, and may live as long as the touch says (or
   * its next requests would touch again). Any other entry is forgotten, and the next `get` reads
   * the row. An absolute timeout (or a partitioned table's lifetime) may end the session sooner
   * than the touch says: then the entry keeps the end it had.
   */
  touched(table: TableSnapshot, sid: string, seconds: number, sentAt: number, startedFrom: CachedSession | undefined) {
    const { absoluteTimeoutSeconds, operationTimeoutMs } = this.#settings.options;
    const ranBy = operationTimeoutMs === false ? Number.POSITIVE_INFINITY : sentAt + operationTimeoutMs;
    if (startedFrom === undefined) return;
    if (startedFrom.aliveUntil <= ranBy) {
      this.cache?.forget(sid);
      return;
    }
    if (absoluteTimeoutSeconds !== undefined || table.partitioning !== undefined) return;
    this.cache?.extend(sid, seconds, sentAt, startedFrom);
  }

  /**
   * After this process's compare-and-swap sent at `sentAt` (transaction `xid`) left the row
   * holding exactly `text`, the entry read before may hold it too, so that the session's next
   * `get` needs no statement (the poll that reports `xid` leaves it be: cache-trust.ts). The
   * statement wrote only to a live row, setting its expiry `lifetimeSeconds` from when it was
   * sent, unless an absolute timeout (or a partitioned table's lifetime) ended it sooner: then the
   * entry keeps the end it had. With no entry to start from, the next `get` reads the row.
   */
  swapped(
    table: TableSnapshot,
    sid: string,
    text: string,
    lifetimeSeconds: number,
    sentAt: number,
    startedFrom: CachedSession | undefined,
    xid: string,
  ): void {
    const cache = this.cache;
    if (cache === undefined) return;
    if (startedFrom === undefined) {
      cache.forget(sid);
      return;
    }
    const writtenUntil = sentAt + lifetimeSeconds * 1000;
    const clamped = this.#settings.options.absoluteTimeoutSeconds !== undefined || table.partitioning !== undefined;
    const aliveUntil = clamped ? Math.min(startedFrom.aliveUntil, writtenUntil) : writtenUntil;
    cache.rememberSwap(sid, text, aliveUntil, sentAt, startedFrom, xid);
  }

  /** One statement on the primary, unless the operation's time ran out before it could start. */
  query(statement: Statement, values: readonly unknown[], deadline: Deadline | undefined): Promise<Row[]> {
    if (deadline?.expired !== undefined) return Promise.reject(deadline.expired);
    return this.#primary.query(statement, values, deadline);
  }

  /**
   * `get`'s rows (one, or none), from a replica when one may answer; from the primary on a miss
   * or any doubt. Without a replica it is the statement's own promise: every uncached `get`.
   */
  getRows(get: Statement, id: IdParameter, deadline: Deadline | undefined): Promise<Row[]> {
    if (this.#replica === undefined) return this.query(get, [id], deadline);
    return this.#rowFromReplica(this.#replica, get, id, deadline);
  }

  async #rowFromReplica(
    replica: ReplicaReads,
    get: Statement,
    id: IdParameter,
    deadline: Deadline | undefined,
  ): Promise<Row[]> {
    if (deadline?.expired !== undefined) throw deadline.expired;
    const row = await replica.read(rememberedIdOf(id), [id], deadline);
    if (row === undefined) return this.query(get, [id], deadline);
    noteReplicaAnswered();
    return [row];
  }

  /**
   * A session's write. Every write statement's first parameter is the session's id as the table
   * stores it (or its candidates): with `readPool`, that id's write is remembered, so that this
   * process reads it back.
   */
  write(statement: Statement, values: readonly unknown[], deadline: Deadline | undefined): Promise<Row[]> {
    const written = this.query(statement, values, deadline);
    const replica = this.#replica;
    return replica === undefined
      ? written
      : written.finally(() => replica.wrote(rememberedIdOf(values[0] as IdParameter)));
  }

  /**
   * A delete of sessions by something other than their cookie's id (a user, a handle, a stored id,
   * all of them): neither this process's cache nor, with `readPool`, a replica may answer for any of them.
   */
  async revoking<T>(work: () => Promise<T>): Promise<T> {
    this.cache?.clear();
    try {
      return await work();
    } finally {
      this.#replica?.wroteAll();
      // Again: a read sent before the delete committed may have cached a row meanwhile.
      this.cache?.clear();
    }
  }

  /**
   * Stops the replica's sampling and the cache's polls; `close` ends the replica's connections
   * once the operations in flight are done.
   */
  stop(): void {
    this.#replica?.stop();
    this.#pollsStopped = this.#trust?.stop();
  }

  async close(): Promise<void> {
    await Promise.all([this.#replica?.close(), this.#pollsStopped]);
  }

  /** The replica's statements, made again when the table check changes the store's own. */
  #replicaStatements(get: Statement): ReplicaStatements {
    if (this.#replicaStatementsMade?.from !== get) {
      this.#replicaStatementsMade = { from: get, statements: replicaStatements(get) };
    }
    return this.#replicaStatementsMade.statements;
  }
}

/** `readPool`'s reads, on a database of their own; writes and everything else stay on the primary. */
function openReplica(settings: ReadPathSettings, statements: () => ReplicaStatements): ReplicaReads | undefined {
  const { options, primary, inFlight, now, log } = settings;
  if (options.readDriver === undefined) return undefined;
  const replica = openDatabase(options.readDriver, {
    pipeline: false,
    preparedStatements: options.preparedStatements,
    timeoutMs: options.operationTimeoutMs,
    name: 'readPool',
    log,
  });
  return new ReplicaReads({ replica, primary, statements, inFlight, now, log });
}
