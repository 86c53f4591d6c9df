import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type CacheTrust, READ_CACHE_BOUND_MS, readCacheTrust } from './cache-trust.js';
import { CorruptSessionError, decodeSession, encodeSession } from './codec.js';
import { noteReplicaAnswered } from './diagnostics.js';
import { type Database, ElapsingSeconds, type Row } from './drivers/database.js';
import { openDatabase } from './drivers/open.js';
import { DecryptionError, isEnvelopeText, SessionCipher } from './encryption.js';
import { sessionLifetimeSeconds, touchWindowSeconds } from './expiry.js';
import { attachReceipt, bindReceipt, type LoadReceipt, receiptFor } from './load-receipt.js';
import { writeMerged } from './merged-write.js';
import { DEFAULTS, type ResolvedOptions, type SessionObject } from './options.js';
import { PruneSchedule } from './pruner.js';
import { type CachedSession, DEFAULT_READ_CACHE_LIMITS, ReadCache } from './read-cache.js';
import { redactForLog } from './redact.js';
import { ReplicaReads } from './replica-reads.js';
import { switchChangeNoticesStatement } from './schema/change-notices.js';
import { USER_COLUMNS_VERSION } from './schema/ddl.js';
import { ensureTable, SchemaError, type StoreIds } from './schema/ensure.js';
import { maintainPartitions, type Partitioning } from './schema/partitions.js';
import { diffSessions, type SessionChange } from './session-diff.js';
import { pepperIdOf } from './session-id.js';
import {
  PRUNE_FROM_START,
  replicaStatements,
  type Statement,
  type StoreStatements,
  storeStatements,
  type TableNames,
  tableNames,
  type UserSessionStatements,
} from './sql.js';
import { type IdParameter, rememberedIdOf, type TableIds, tableIdsFor } from './table-ids.js';
import { layoutNote, TABLE_RECHECK_MS, tableModeNote, tableSetup } from './table-setup.js';
import { type Deadline, OperationsInFlight } from './time-limit.js';
import { detailsText } from './user-id.js';
import {
  destroyHandle,
  destroyUserSessions,
  listUserSessions,
  SessionHandles,
  textArgument,
  type UserSession,
  type UserSessionsContext,
  userIdArgument,
} from './user-sessions.js';

const EXPIRY_ONLY: SessionChange = { kind: 'expiry' };

/** Longest session id accepted, in UTF-8 bytes: far above any generator's, far below the index limit. */
const MAX_SID_BYTES = 1024;

export interface CoreSettings {
  /** Treat a stored session without a `cookie` object as corrupt (express-session would crash on it). */
  readonly requireCookie: boolean;
  /** A monotonic clock in milliseconds, for tests; default `performance.now`. */
  readonly now?: () => number;
}

/** What a framework adapter knows about one write that the session object does not say. */
export interface WriteOptions {
  /**
   * The session's lifetime in seconds, as the framework sets it (koa-session's `maxAge`, React
   * Router's `expires`, unstorage's `ttl`): it takes the place of the cookie's expiry, so the
   * store's `ttl` option still wins over it.
   */
  readonly lifetimeSeconds?: number | undefined;
}

export interface ListedSession {
  /** The id as the table stores it: with hashed ids (the default), its hash, not the cookie's id. */
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
  #statements: StoreStatements;
  /** How ids are stored, as this store makes them. */
  readonly #storeIds: StoreIds;
  /** How the table's rows are found and encrypted sessions bound, as the last table check found it. */
  #ids: TableIds;
  /** What the last table check found, to log a change of it once. */
  #idMode: string | undefined;
  readonly #cipher: SessionCipher | undefined;
  /** The table's schema version, as the last table check saw it. */
  #tableVersion = 0;
  /** Schema 3's statements of sessions per user; undefined while the table cannot serve them. */
  #userStatements: UserSessionStatements | undefined;
  /** Why `#userStatements` is undefined, when it is not the schema version. */
  #userStatementsRefusal: string | undefined;
  /** Handles and `details`, as the last table check found the table's ids. */
  #handles: SessionHandles;
  /** Set while the table may still change (a migration, a re-keying): when to look at it again. */
  #recheckAt: number | undefined;
  /** How the table is partitioned, when it is (as the table says, whatever `partitionBy` says). */
  #partitioning: Partitioning | undefined;
  /** What was said once about the table's layout, so that a recheck does not repeat it. */
  #layoutNoted = false;
  /** How soon to look at the table again while it may change. */
  #recheckMs = TABLE_RECHECK_MS;
  /** Set by the last `#readable`: see there. */
  #boundElsewhere = false;
  readonly #db: Database;
  readonly #settings: CoreSettings;
  /** The opt-in `readCache`; undefined when it is off, as by default. */
  readonly #readCache: ReadCache | undefined;
  /** With `readCache: true`: when the cache may answer (see cache-trust.ts). */
  readonly #cacheTrust: CacheTrust | undefined;
  /** The opt-in `readPool`; undefined when it is off, as by default. */
  readonly #replica: ReplicaReads | undefined;
  #replicaStatementsMade: { from: Statement; statements: ReturnType<typeof replicaStatements> } | undefined;
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
    const maxAgeMs = options.readCacheListens ? Number.POSITIVE_INFINITY : options.readCacheMs;
    this.#readCache =
      maxAgeMs === false ? undefined : new ReadCache({ ...DEFAULT_READ_CACHE_LIMITS, maxAgeMs }, this.#now);
    this.names = tableNames(options.tableName, options.schemaName);
    this.#inFlight = new OperationsInFlight(options.operationTimeoutMs);
    // Until the table check says which ones the table needs: the check's own statement.
    this.#statements = storeStatements(this.names);
    const pepper = options.sessionIdPepper;
    this.#storeIds = { form: options.idForm, pepperId: pepper === undefined ? undefined : pepperIdOf(pepper) };
    this.#ids = tableIdsFor({ kind: 'own' }, 2, false, { form: options.idForm, pepper });
    this.#cipher = options.encryptionKeys === undefined ? undefined : new SessionCipher(options.encryptionKeys);
    this.#handles = new SessionHandles(this.#ids.handleOf, this.#cipher);
    this.#db = openDatabase(options.driver, {
      pipeline: options.pipeline,
      preparedStatements: options.preparedStatements,
      // A cancelled statement ends at once; one that does not is on a connection to close.
      cancelGraceMs: options.operationTimeoutMs === false ? 0 : options.operationTimeoutMs,
      timeoutMs: options.operationTimeoutMs,
      onPoolError: (error) => this.#log('connect-pg-simple: idle database connection failed:', error),
    });
    this.#replica = this.#openReplica();
    this.#cacheTrust =
      options.readCacheListens && this.#readCache !== undefined
        ? readCacheTrust(options.driver, {
            cache: this.#readCache,
            db: this.#db,
            table: this.names.qualified,
            enableStatement: switchChangeNoticesStatement(this.names, true),
            boundMs: READ_CACHE_BOUND_MS,
            now: this.#now,
            log: (message) => this.#log(message),
          })
        : undefined;
    this.#pruneSchedule = new PruneSchedule(
      options.pruneIntervalMs,
      options.pruneDelay,
      () => this.pruneOnSchedule(),
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
      if (cached !== undefined && (this.#cacheTrust?.allows(cached.readAt) ?? true)) {
        const now = this.#now();
        return this.#loadedSession(sid, cached.text, (cached.aliveUntil - now) / 1000, now, cached.userId);
      }
    }
    const deadline = this.#begin('get()');
    try {
      if (!this.#isReady) await this.#whenReady();
      checkSid(sid);
      const startedFrom = cache?.peek(sid);
      const id = this.#ids.parameter(sid);
      const sentAt = this.#now();
      const row =
        this.#replica === undefined
          ? (await this.#query(this.#statements.get, [id], deadline))[0]
          : await this.#readFromReplica(this.#replica, sid, deadline);
      if (row === undefined) return null;
      const remainingSeconds = Number(row.remaining);
      const userId = row.user_id as string | null | undefined;
      const session = this.#loadedSession(sid, row.sess, remainingSeconds, sentAt, userId);
      if (session === null) return null;
      const stored = this.#boundElsewhere ? await this.#rebind(sid, session, deadline) : (row.sess as string);
      const key = this.#cacheTrust?.keyToRemember(id, sentAt);
      if (key !== null) cache?.rememberRead(sid, stored, remainingSeconds, sentAt, startedFrom, userId, key);
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
  #loadedSession(
    sid: string,
    stored: unknown,
    remainingSeconds: number,
    at: number,
    userId: string | null | undefined,
  ): SessionObject | null {
    const text = this.#readable(stored, sid, this.#ids.readBindings);
    const session = text === null ? null : this.#sessionFrom(text);
    if (session === null) return null;
    const receipt: LoadReceipt = { sid, text: text as string, remainingSeconds, at };
    if (text !== stored) receipt.stored = stored as string;
    // The row's user, as stored: a write records the session's user when it differs.
    if (userId !== undefined) receipt.userId = userId;
    attachReceipt(session, receipt);
    const cookie = session.cookie as { expires?: unknown } | undefined;
    // Only when the cookie decides the lifetime: with `ttl`, the row's expiry is not the cookie's.
    if (this.options.ttl === undefined && typeof cookie?.expires === 'string') {
      // The remaining time was measured when the statement was sent: count from that moment.
      const sentAtWallClock = Date.now() - (this.#now() - at);
      cookie.expires = new Date(sentAtWallClock + remainingSeconds * 1000).toISOString();
    }
    return session;
  }

  /**
   * A session bound to another form of its id than the table's (written by a store that had not
   * yet seen the table re-keyed) is bound to its row's id when it is read: `all()` and `reencrypt`
   * then read it too. A compare-and-swap: a row another request changed meanwhile keeps that
   * write. Resolves with the row's stored text.
   */
  async #rebind(sid: string, session: SessionObject, deadline: Deadline | undefined): Promise<string> {
    const receipt = receiptFor(session, sid)!;
    const stored = receipt.stored!;
    const rebound = this.#storable(receipt.text, sid);
    const values = [this.#ids.parameter(sid), rebound, receipt.remainingSeconds, stored];
    const swapped = await this.#write(this.#statements.updateIfUnchanged, values, deadline);
    if (swapped.length === 0) return stored;
    receipt.stored = rebound;
    return rebound;
  }

  /**
   * The session's JSON text from the row's stored text: decrypted when it is encrypted (bound to
   * one of `bindings(id)`). A row that does not decrypt is logged and treated as missing (null).
   * With encryption on, a plain row (written before it was turned on) is read as it is.
   * Sets `#boundElsewhere` when only another binding than the table's own form decrypted it.
   */
  #readable(stored: unknown, id: string, bindings: (id: string) => readonly string[]): unknown {
    this.#boundElsewhere = false;
    if (typeof stored !== 'string' || !isEnvelopeText(stored)) return stored;
    let failure: unknown;
    try {
      if (this.#cipher === undefined)
        throw new DecryptionError('stored session is encrypted, and encryptionKeys is not set');
      const candidates = bindings(id);
      for (const binding of candidates) {
        try {
          const text = this.#cipher.decrypt(stored, binding);
          this.#boundElsewhere = binding !== candidates[0] && !this.#ids.idCandidates;
          return text;
        } catch (error) {
          failure ??= error;
          if (!(error instanceof DecryptionError)) throw error;
        }
      }
      throw failure;
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      this.#log('connect-pg-simple: a stored session could not be decrypted and was treated as missing:', error);
      return null;
    }
  }

  /** A session's JSON text as the row stores it: encrypted when encryption is on. */
  #storable(text: string, sid: string): string {
    return this.#cipher === undefined ? text : this.#cipher.encrypt(text, this.#ids.writeBinding(sid));
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
  async set(sid: string, session: SessionObject, write?: WriteOptions): Promise<void> {
    const deadline = this.#begin('set()');
    try {
      if (!this.#isReady) await this.#whenReady();
      checkSid(sid);
      const text = encodeSession(session, this.options.maxSessionSize);
      const lifetime = this.#lifetime(session, write);
      const receipt = receiptFor(session, sid);
      const startedFrom = this.#readCache?.peek(sid);
      // Taken together: a look at the table between two statements of this write may change both.
      const id = this.#ids.parameter(sid);
      const statements = this.#statements;
      const sentAt = this.#now();
      // Counted from now, not from when a connection is free (see ElapsingSeconds).
      const ttl = new ElapsingSeconds(lifetime, sentAt, this.#now);
      if (receipt === undefined) {
        const stored = this.#storable(text, sid);
        const values: unknown[] = [id, stored, ttl];
        const userId = statements.setUser === undefined ? undefined : this.options.userIdOf(session);
        if (userId !== undefined) values.push(userId, this.#storableDetails(session, sid));
        await this.#write(statements.upsert, values, deadline);
        const written: LoadReceipt = { sid, text, remainingSeconds: lifetime, at: sentAt };
        if (stored !== text) written.stored = stored;
        if (userId !== undefined) written.userId = userId;
        bindReceipt(session, written);
        this.#readCache?.rememberWrite(sid, stored, lifetime, sentAt, startedFrom, userId);
        return;
      }
      const change = receipt.text === text ? EXPIRY_ONLY : diffSessions(receipt.text, text);
      if (change.kind === 'expiry') {
        // Only the cookie's expiry changed: that is a touch.
        await this.#recordUserChange(statements, sid, id, session, receipt, deadline);
        const enough = this.#enoughSeconds(lifetime);
        if (this.#secondsLeft(receipt) >= enough) return;
        await this.#write(statements.touch, [id, new ElapsingSeconds(enough, sentAt, this.#now), ttl], deadline);
        this.#touchedCached(sid, enough, sentAt, startedFrom);
        // The touch may have found the row with enough time and written nothing: only that is sure.
        receipt.remainingSeconds = enough;
        receipt.at = sentAt;
        return;
      }
      // Before the write: a userId or describe that throws fails the write, not half of it.
      const userChange = this.#userChange(session, sid, receipt);
      if (this.#cipher !== undefined) {
        await this.#writeEncrypted(id, sid, receipt, change, text, ttl, deadline);
      } else if (change.kind === 'keys') {
        // Usually no other request changed the row since this one loaded it: then this request's
        // text is the merge, and the plain replace is cheaper than merging in the database.
        const unchanged = [id, text, ttl, receipt.text];
        if ((await this.#write(statements.updateIfUnchanged, unchanged, deadline)).length === 0) {
          const values = [id, change.set, change.replaced, ttl];
          await this.#write(statements.updateKeys, values, deadline);
        }
        receipt.text = text;
      } else {
        await this.#write(statements.update, [id, text, ttl], deadline);
        receipt.text = text;
      }
      receipt.remainingSeconds = lifetime;
      receipt.at = sentAt;
      if (userChange !== undefined) await this.#writeUserChange(statements, id, userChange, receipt, deadline);
      // The row may now hold other requests' keys too: this process's next get reads it.
      this.#readCache?.forget(sid);
    } finally {
      this.#inFlight.end(deadline);
    }
  }

  /**
   * Writes a loaded encrypted session's changes: the database cannot merge keys it cannot read,
   * so a key-level change is a compare-and-swap, merged here when the row changed meanwhile
   * (see merged-write.ts); a whole session replaces the row's, as without encryption.
   */
  async #writeEncrypted(
    id: IdParameter,
    sid: string,
    receipt: LoadReceipt,
    change: Exclude<SessionChange, { kind: 'expiry' }>,
    text: string,
    ttl: ElapsingSeconds,
    deadline: Deadline | undefined,
  ): Promise<void> {
    if (change.kind === 'whole') {
      const stored = this.#storable(text, sid);
      await this.#write(this.#statements.update, [id, stored, ttl], deadline);
      receipt.text = text;
      receipt.stored = stored;
      return;
    }
    const statements = this.#statements;
    const written = await writeMerged(
      {
        swap: async (stored, base) =>
          (await this.#write(statements.updateIfUnchanged, [id, stored, ttl, base], deadline)).length > 0,
        reread: async () => (await this.#query(statements.get, [id], deadline))[0]?.sess as string | undefined,
        readable: (stored) => {
          const current = this.#readable(stored, sid, this.#ids.readBindings);
          return typeof current === 'string' ? current : undefined;
        },
        storable: (plain) => this.#storable(plain, sid),
      },
      change,
      text,
      receipt.stored ?? receipt.text,
    );
    if (written !== undefined) {
      receipt.text = written.text;
      receipt.stored = written.stored;
    }
  }

  /** What `describe` says of the session's device, as the `details` column stores it. */
  #storableDetails(session: SessionObject, sid: string): string | null {
    const text = detailsText(this.options.describe, session);
    return text === null ? null : this.#handles.storable(text, this.#handles.of(sid));
  }

  /**
   * Records the session's user when the row says otherwise, on a request that changes nothing
   * else: once per session that was stored before the table had a user column.
   */
  async #recordUserChange(
    statements: StoreStatements,
    sid: string,
    id: IdParameter,
    session: SessionObject,
    receipt: LoadReceipt,
    deadline: Deadline | undefined,
  ): Promise<void> {
    const userChange = this.#userChange(session, sid, receipt);
    if (userChange !== undefined) await this.#writeUserChange(statements, id, userChange, receipt, deadline);
  }

  /** Login or logout: the one write that records the row's user (never on the hot path). */
  async #writeUserChange(
    statements: StoreStatements,
    id: IdParameter,
    { userId, details }: { userId: string | null; details: string | null },
    receipt: LoadReceipt,
    deadline: Deadline | undefined,
  ): Promise<void> {
    // This write's statements may be of the table before a migration the store has seen since: the next request records the user.
    if (statements.setUser === undefined) return;
    await this.#write(statements.setUser, [id, userId, details], deadline);
    receipt.userId = userId;
  }

  /** The user and details to record when a loaded session's user is not the row's (schema 3 only). */
  #userChange(
    session: SessionObject,
    sid: string,
    receipt: LoadReceipt,
  ): { userId: string | null; details: string | null } | undefined {
    if (this.#statements.setUser === undefined) return undefined;
    const userId = this.options.userIdOf(session);
    if (userId === receipt.userId) return undefined;
    return { userId, details: this.#storableDetails(session, sid) };
  }

  /**
   * The handle of the session with this id, as `userSessions` lists it: the id's stored hash
   * (or, with `hashSessionIds: false`, its SHA-256), never the id itself.
   */
  sessionHandle(sid: string): string {
    checkSid(sid);
    return this.#handles.of(sid);
  }

  /** The user's live sessions, latest activity first. */
  userSessions(userId: string | number): Promise<UserSession[]> {
    return this.#operation('userSessions()', async (deadline) => {
      const user = userIdArgument(userId, 'userSessions()');
      return listUserSessions(await this.#userContext(deadline), user);
    });
  }

  /**
   * Revokes every session of the user, but the one `except` names (its session id or its
   * handle); resolves with how many live sessions it revoked. Final like `destroy`.
   */
  destroyUserSessions(userId: string | number, except?: string): Promise<number> {
    return this.#operation('destroyUserSessions()', async (deadline) => {
      const user = userIdArgument(userId, 'destroyUserSessions()');
      const kept =
        except === undefined
          ? undefined
          : textArgument(except, 'destroyUserSessions()', 'as "except" a session id or a handle');
      const context = await this.#userContext(deadline);
      return this.#revoking(() => destroyUserSessions(context, user, kept && this.#ids.parameter(kept), kept));
    });
  }

  /** Revokes the session with this handle (only if it is `userId`'s, when given); whether it did. */
  destroySession(handle: string, options: { readonly userId?: unknown } = {}): Promise<boolean> {
    return this.#operation('destroySession()', async (deadline) => {
      const named = textArgument(handle, 'destroySession()', 'a handle (as userSessions() lists it)');
      // `{ userId: req.user?.id }` without a signed-in user must not revoke anybody's session.
      if ('userId' in options && (options.userId === undefined || options.userId === null)) {
        throw new TypeError(
          'connect-pg-simple: destroySession() was given userId undefined: pass the user whose session it must be, or leave the option out to revoke any session',
        );
      }
      const user = options.userId === undefined ? undefined : userIdArgument(options.userId, 'destroySession()');
      const context = await this.#userContext(deadline);
      return this.#revoking(() => destroyHandle(context, named, user));
    });
  }

  /**
   * A delete of sessions by something other than their cookie's id (a user, a handle, a stored id,
   * all of them): neither this process's cache nor, with `readPool`, a replica may answer for any of them.
   */
  async #revoking<T>(work: () => Promise<T>): Promise<T> {
    this.#readCache?.clear();
    try {
      return await work();
    } finally {
      this.#replica?.wroteAll();
      // Again: a read sent before the delete committed may have cached a row meanwhile.
      this.#readCache?.clear();
    }
  }

  /**
   * The per-user queries, once the table has schema 3. A store that saw an older table looks
   * again first: it may have been migrated while the store ran.
   */
  async #userContext(deadline: Deadline | undefined): Promise<UserSessionsContext> {
    if (this.#userStatements === undefined) await this.#checkTable();
    const statements = this.#userStatements;
    if (statements === undefined && this.#userStatementsRefusal !== undefined) {
      throw new SchemaError(this.#userStatementsRefusal, '55000');
    }
    if (statements === undefined) {
      throw new SchemaError(
        `connect-pg-simple: sessions per user need schema version ${USER_COLUMNS_VERSION} of the session table, and ${this.names.qualified} is at version ${this.#tableVersion}: migrate it with \`npx connect-pg-simple migrate\``,
        '0A000',
      );
    }
    return {
      statements,
      handles: this.#handles,
      query: (statement, values) => this.#query(statement, values, deadline),
      log: (...args) => this.#log(...args),
    };
  }

  async touch(sid: string, session: SessionObject): Promise<void> {
    const deadline = this.#begin('touch()');
    try {
      if (!this.#isReady) await this.#whenReady();
      checkSid(sid);
      checkSessionObject(session);
      if (this.options.disableTouch) return;
      const lifetime = this.#lifetime(session, undefined);
      const receipt = receiptFor(session, sid);
      // Taken together, as in set().
      const id = this.#ids.parameter(sid);
      const statements = this.#statements;
      if (receipt !== undefined) await this.#recordUserChange(statements, sid, id, session, receipt, deadline);
      const enough = this.#enoughSeconds(lifetime);
      if (receipt !== undefined && this.#secondsLeft(receipt) >= enough) return;
      // The statement writes only when the row has less than `enough` left, and never to a row
      // that is gone or expired.
      const startedFrom = this.#readCache?.peek(sid);
      const sentAt = this.#now();
      const values = [
        id,
        new ElapsingSeconds(enough, sentAt, this.#now),
        new ElapsingSeconds(lifetime, sentAt, this.#now),
      ];
      await this.#write(statements.touch, values, deadline);
      this.#touchedCached(sid, enough, sentAt, startedFrom);
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
      await this.#write(this.#statements.destroy, [this.#ids.parameter(sid)], deadline);
      // Again: a read sent before the delete committed may have cached the row meanwhile.
      this.#readCache?.forget(sid);
    });
  }

  /**
   * Destroys the session whose row has this id, as `all()` lists it: with hashed ids, the stored
   * hash (which `destroy` would hash again). Never accepted where a cookie's id goes: a stolen
   * table's ids must not work as session ids.
   */
  destroyStoredId(storedId: string): Promise<void> {
    return this.#operation('destroyStoredId()', async (deadline) => {
      checkSid(storedId);
      await this.#revoking(() =>
        this.#query(this.#statements.destroy, [this.#ids.storedParameter(storedId)], deadline),
      );
    });
  }

  all(): Promise<ListedSession[]> {
    return this.#operation('all()', async (deadline) => {
      const rows = await this.#query(this.#statements.all, [], deadline);
      const sessions: ListedSession[] = [];
      const bindings = this.#ids.listedBindings;
      for (const row of rows) {
        try {
          const text = this.#readable(row.sess, row.sid as string, bindings);
          if (text === null) continue;
          sessions.push({ sid: row.sid as string, session: decodeSession(text) });
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
      await this.#revoking(() => this.#query(this.#statements.clear, [], deadline));
    });
  }

  /**
   * Deletes expired sessions (partitioned: drops the partitions of dead sessions first, their rows
   * as estimated); resolves with how many. The next automatic prune is one interval away.
   */
  async prune(): Promise<number> {
    try {
      if (this.closed) throw new StoreClosedError();
      return await this.#pruneCounted();
    } finally {
      this.#pruneSchedule.reschedule();
    }
  }

  /** The prune timer's prune: a method of its own, so that it is traced as `prune()` is. */
  pruneOnSchedule(): Promise<number> {
    return this.#pruneCounted();
  }

  /** Stops pruning, waits for work in flight, and ends the connections the store opened. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#pruneSchedule.stop();
      this.#replica?.stop();
      const listenerClosed = this.#cacheTrust?.stop();
      await this.#inFlight.whenIdle();
      await Promise.all([this.#db.close(), this.#replica?.close(), listenerClosed]);
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
    let total = this.#partitioning === undefined ? 0 : await this.#maintainPartitions(this.#partitioning);
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
   * The partitioned layout's share of a prune: drops the partitions of dead sessions (their rows
   * counted as the planner's statistics estimate them) and creates the next ones. The rows of the
   * live partitions are left to their partition's drop, expired or not: deleting them would bring
   * back the dead row versions this layout is there to avoid. The DEFAULT partition's expired
   * rows are deleted in batches by the caller, as in a plain table.
   */
  async #maintainPartitions(partitioning: Partitioning): Promise<number> {
    const deadline = this.#inFlight.begin('pruning sessions');
    try {
      const result = await maintainPartitions(this.#db, this.names, partitioning, {
        lock: this.options.pruneLock,
        deadline,
      });
      return Math.round(result.droppedRowEstimate);
    } finally {
      this.#inFlight.end(deadline);
    }
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

  /**
   * After a touch sent at `sentAt`, the row has at least `seconds` left if it exists: its cached
   * entry may live as long (or its next requests would touch again), unless an absolute timeout
   * (or a partitioned table's lifetime) may end the session sooner than the touch says.
   */
  #touchedCached(sid: string, seconds: number, sentAt: number, startedFrom: CachedSession | undefined): void {
    if (this.options.absoluteTimeoutSeconds !== undefined || this.#partitioning !== undefined) return;
    this.#readCache?.extend(sid, seconds, sentAt, startedFrom);
  }

  /** Seconds the row had left, by what this request's receipt says, aged on this process's clock. */
  #secondsLeft(receipt: LoadReceipt): number {
    return receipt.remainingSeconds - (this.#now() - receipt.at) / 1000;
  }

  #lifetime(session: SessionObject, write: WriteOptions | undefined): number {
    const given = write?.lifetimeSeconds;
    const lifetime =
      given !== undefined && this.options.ttl === undefined
        ? given
        : sessionLifetimeSeconds(session, this.options.ttl, DEFAULTS.ttlSeconds);
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
    if (this.#recheckAt !== undefined && this.#now() >= this.#recheckAt) this.#recheckTable();
    return this.#inFlight.begin(what);
  }

  /**
   * A session's write. Every write statement's first parameter is the session's id as the table
   * stores it (or its candidates): with `readPool`, that id's write is remembered, so that this
   * process reads it back.
   */
  #write(statement: Statement, values: readonly unknown[], deadline: Deadline | undefined): Promise<Row[]> {
    const written = this.#query(statement, values, deadline);
    const replica = this.#replica;
    return replica === undefined
      ? written
      : written.finally(() => replica.wrote(rememberedIdOf(values[0] as IdParameter)));
  }

  /** `get`'s row from a replica when one may answer; from the primary on a miss or any doubt. */
  async #readFromReplica(replica: ReplicaReads, sid: string, deadline: Deadline | undefined): Promise<Row | undefined> {
    if (deadline?.expired !== undefined) throw deadline.expired;
    const values = [this.#ids.parameter(sid)];
    const get = this.#statements.get;
    const row = await replica.read(rememberedIdOf(values[0]!), values, deadline);
    if (row !== undefined) noteReplicaAnswered();
    return row ?? (await this.#query(get, values, deadline))[0];
  }

  /** The replica's statements, made again when the table check changes the store's own. */
  #replicaStatements(): ReturnType<typeof replicaStatements> {
    const get = this.#statements.get;
    if (this.#replicaStatementsMade?.from !== get) {
      this.#replicaStatementsMade = { from: get, statements: replicaStatements(get) };
    }
    return this.#replicaStatementsMade.statements;
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
      statements: () => this.#replicaStatements(),
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
      const { options } = this;
      const state = await ensureTable(
        this.#db,
        this.#statements,
        this.names,
        options.createTableIfMissing,
        this.#storeIds,
        deadline,
        options.partitioning,
        options.readCacheListens,
      );
      const setup = tableSetup(this.names, state, this.#storeIds, options);
      if (!this.#layoutNoted) {
        const note = layoutNote(this.names, options, setup);
        if (note !== undefined) this.#log(note);
        this.#layoutNoted = note !== undefined;
      }
      const modeNote = tableModeNote(this.names, options, setup, this.#idMode);
      if (modeNote !== undefined) this.#log(modeNote);
      this.#idMode = setup.idMode;
      this.#partitioning = setup.partitioning;
      this.#recheckMs = setup.recheckMs ?? TABLE_RECHECK_MS;
      this.#recheckAt = setup.recheckMs === undefined ? undefined : this.#now() + setup.recheckMs;
      this.#statements = setup.statements;
      this.#ids = setup.ids;
      this.#tableVersion = setup.version;
      this.#handles = new SessionHandles(setup.ids.handleOf, this.#cipher, setup.ids.detailsBindings);
      this.#userStatementsRefusal = setup.userStatementsRefusal;
      this.#userStatements = setup.userStatements;
    } finally {
      this.#inFlight.end(deadline);
    }
  }

  /**
   * The table may be migrated or re-keyed while the store runs: look again, in the background.
   * Until then the statements find a row in any form it may have, so no session is missed
   * meanwhile; before schema 3, rows are written without a user, recorded by their next request
   * once the store uses schema 3's statements.
   */
  #recheckTable(): void {
    this.#recheckAt = this.#now() + this.#recheckMs;
    this.#checkTable().catch((error: unknown) => {
      this.#log('connect-pg-simple: the session table cannot be used any more:', error);
      this.#isReady = false;
      this.#ready = undefined;
    });
  }

  #log(...args: unknown[]): void {
    try {
      this.options.errorLog(...args.map(redactForLog));
    } catch {
      // A throwing logger must not turn a logged error into a crash.
    }
  }
}
