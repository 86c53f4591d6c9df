import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { ConnectionWatch } from './connection-watch.js';
import { type CoreSettings, type ListedSession, type LoadedSession, SessionCore, type WriteOptions } from './core.js';
import { channels, isTraced, type Operation, type OperationContext, traceOperation } from './diagnostics.js';
import type { LoadReceipt } from './load-receipt.js';
import type { ResolvedOptions } from './option-types.js';
import { storedIdFunction } from './session-id.js';
import { emitLifecycle } from './store-events.js';
import type { SessionObject } from './types.js';
import type { UserSession } from './user-sessions.js';

/**
 * The store's operations as an operator sees them: each published on its TracingChannel when
 * somebody subscribes (see diagnostics.ts), its outcome watched for `connect` / `disconnect`
 * (connection-watch.ts), and what it did to sessions emitted for audit logs (store-events.ts).
 * The behaviour is the core's, unchanged; untraced, an operation is the core's call (the hot
 * path's `load`, `save` and `refresh` report their outcomes to the watch through `settled`).
 */
export class ObservedCore extends SessionCore {
  readonly #events: EventEmitter | undefined;
  readonly #watch: ConnectionWatch | undefined;
  readonly #table: string;

  /** `events`: the store, which emits the events; none for an adapter's core. */
  constructor(options: ResolvedOptions, settings: CoreSettings, events?: EventEmitter) {
    super(options, settings);
    this.#events = events;
    this.#table = options.schemaName === undefined ? options.tableName : `${options.schemaName}.${options.tableName}`;
    this.#watch =
      events === undefined || !options.connectionEvents
        ? undefined
        : new ConnectionWatch(events, () => super.load(probeId()));
  }

  /** Traced as the `get` operation: the store's users call it so. */
  override load(sid: string): Promise<LoadedSession | null> {
    const channel = channels.get;
    if (!isTraced(channel)) return super.load(sid);
    const context = this.#context('get');
    if (this.options.readDriver !== undefined) context.server = 'primary';
    const cached = this.options.readCacheMs !== false || this.options.readCacheListens;
    return traceOperation(
      context,
      () => super.load(sid),
      cached ? (done) => (done.cacheHit = done.statements === 0) : undefined,
    );
  }

  /** Traced as the `set` operation; a session written without the receipt of its load is created. */
  override save(
    sid: string,
    session: SessionObject,
    given: LoadReceipt | undefined,
    write?: WriteOptions,
  ): Promise<LoadReceipt> {
    const created =
      this.#listens('sessionCreated') && typeof session === 'object' && session !== null ? given?.sid !== sid : false;
    const written = isTraced(channels.set)
      ? traceOperation(this.#context('set'), () => super.save(sid, session, given, write))
      : super.save(sid, session, given, write);
    if (!created) return written;
    return written.then((receipt) => {
      emitLifecycle(this.#events, 'sessionCreated', () =>
        withUser({ handle: this.sessionHandle(sid) }, this.#userIdOf(session)),
      );
      return receipt;
    });
  }

  /** Traced as the `touch` operation. */
  override refresh(
    sid: string,
    session: SessionObject,
    given: LoadReceipt | undefined,
    write?: WriteOptions,
  ): Promise<void> {
    return isTraced(channels.touch)
      ? traceOperation(this.#context('touch'), () => super.refresh(sid, session, given, write))
      : super.refresh(sid, session, given, write);
  }

  /** `load`, `save` and `refresh` report their outcomes here, rather than each be watched as a promise. */
  protected override settled(succeeded: boolean, error?: unknown): void {
    if (this.#watch === undefined) return;
    if (succeeded) this.#watch.succeeded();
    else this.#watch.failed(error);
  }

  override destroy(sid: string): Promise<void> {
    const destroyed = this.#observe('destroy', () => super.destroy(sid));
    if (!this.#listens('sessionDestroyed')) return destroyed;
    return destroyed.then(() =>
      emitLifecycle(this.#events, 'sessionDestroyed', () => ({ handle: this.sessionHandle(sid) })),
    );
  }

  override destroyStoredId(storedId: string): Promise<void> {
    return this.#observe('destroyStoredId', () => super.destroyStoredId(storedId)).then(() =>
      emitLifecycle(this.#events, 'sessionRevoked', () => ({ handle: this.#handleOfStoredId(storedId) })),
    );
  }

  override all(): Promise<ListedSession[]> {
    return this.#observe('all', () => super.all());
  }

  override length(): Promise<number> {
    return this.#observe('length', () => super.length());
  }

  override clear(): Promise<void> {
    return this.#observe('clear', () => super.clear()).then(() =>
      emitLifecycle(this.#events, 'sessionsCleared', () => ({})),
    );
  }

  override prune(): Promise<number> {
    return this.#pruned(false, () => super.prune());
  }

  override pruneOnSchedule(): Promise<number> {
    return this.#pruned(true, () => super.pruneOnSchedule());
  }

  override userSessions(userId: string | number): Promise<UserSession[]> {
    return this.#observe('userSessions', () => super.userSessions(userId));
  }

  override destroyUserSessions(userId: string | number, except?: string): Promise<number> {
    return this.#observe(
      'destroyUserSessions',
      () => super.destroyUserSessions(userId, except),
      (context, count) => (context.revoked = count),
    ).then((count) => {
      emitLifecycle(this.#events, 'userSessionsRevoked', () => ({
        userId: String(userId),
        count,
        keptOne: except !== undefined,
      }));
      return count;
    });
  }

  override destroySession(handle: string, options: { readonly userId?: unknown } = {}): Promise<boolean> {
    return this.#observe(
      'destroySession',
      () => super.destroySession(handle, options),
      (context, revoked) => (context.revoked = revoked ? 1 : 0),
    ).then((revoked) => {
      if (revoked) {
        const userId = options.userId;
        emitLifecycle(this.#events, 'sessionRevoked', () => withUser({ handle }, userId));
      }
      return revoked;
    });
  }

  override close(): Promise<void> {
    this.#watch?.stop();
    return super.close();
  }

  #pruned(automatic: boolean, work: () => Promise<number>): Promise<number> {
    return this.#observe('prune', work, (context, count) => {
      context.rowsPruned = count;
      context.automatic = automatic;
    }).then((count) => {
      emitLifecycle(this.#events, 'sessionsPruned', () => ({ count, automatic }));
      return count;
    });
  }

  /** An operation off the hot path: traced when somebody subscribes, and watched. */
  #observe<T>(
    operation: Operation,
    work: () => Promise<T>,
    finish?: (context: OperationContext, result: T) => void,
  ): Promise<T> {
    const done = isTraced(channels[operation]) ? traceOperation(this.#context(operation), work, finish) : work();
    return this.#watched(done);
  }

  #watched<T>(operation: Promise<T>): Promise<T> {
    return this.#watch === undefined ? operation : this.#watch.watch(operation);
  }

  #context(operation: Operation): OperationContext {
    return { operation, table: this.#table, statements: 0 };
  }

  /** The session's user for an event: a `userId` option that throws (on a table before schema 3 it was not asked) gives none. */
  #userIdOf(session: SessionObject): string | null {
    try {
      return this.options.userIdOf(session);
    } catch {
      return null;
    }
  }

  #listens(event: string): boolean {
    return this.#events !== undefined && this.#events.listenerCount(event) > 0;
  }

  /**
   * The handle of the row `all()` listed with this id: with hashed ids the stored id is the
   * handle; with plain ids, the handle is its SHA-256, as `sessionHandle` makes it.
   */
  #handleOfStoredId(storedId: string): string {
    return this.options.idForm === 'plain' ? sha256Of(storedId) : storedId;
  }
}

const sha256Of = storedIdFunction('sha256');

/** The event's `userId`, when there is one, as the column stores it. */
function withUser<T extends object>(event: T, userId: unknown): T & { userId?: string } {
  if (userId === undefined || userId === null) return event;
  return { ...event, userId: String(userId) };
}

/** A session id no session has: the probe's `get` reads nothing, through the store's own path. */
function probeId(): string {
  return `connect-pg-simple-probe-${randomBytes(16).toString('hex')}`;
}
