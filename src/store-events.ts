/**
 * The session lifecycle events a store emits, for audit logs: what happened to which session
 * (by its handle, as `userSessions` lists it) and, where the store knows it, whose. Never a
 * session id or a session's data.
 */

/** `sessionCreated`: a new session was stored (a `set` of a session no request had loaded). */
export interface SessionCreatedEvent {
  readonly handle: string;
  /** The session's user, as the `userId` option reads it, when it has one. */
  readonly userId?: string;
}

/** `sessionDestroyed`: `destroy` (a logout, an expired cookie's session) deleted the session, if it was there. */
export interface SessionDestroyedEvent {
  readonly handle: string;
}

/** `sessionRevoked`: `destroySession` (by handle) or `destroyStoredId` deleted one session. */
export interface SessionRevokedEvent {
  readonly handle: string;
  /** The user `destroySession` was told the session must belong to, when it was told. */
  readonly userId?: string;
}

/** `userSessionsRevoked`: `destroyUserSessions` revoked a user's sessions. */
export interface UserSessionsRevokedEvent {
  readonly userId: string;
  /** Live sessions revoked. */
  readonly count: number;
  /** Whether one session (`except`) was kept. */
  readonly keptOne: boolean;
}

/** `sessionsPruned`: one prune, automatic or `pruneSessions()`, ended. */
export interface SessionsPrunedEvent {
  /** Expired sessions removed (on a partitioned table, dropped partitions' rows as estimated). */
  readonly count: number;
  readonly automatic: boolean;
}

/** `sessionsCleared`: `clear()` deleted every session. */
export type SessionsClearedEvent = Record<string, never>;

/** Each event's name and what its listeners receive. */
export interface StoreEvents {
  connect: [];
  disconnect: [];
  sessionCreated: [SessionCreatedEvent];
  sessionDestroyed: [SessionDestroyedEvent];
  sessionRevoked: [SessionRevokedEvent];
  userSessionsRevoked: [UserSessionsRevokedEvent];
  sessionsPruned: [SessionsPrunedEvent];
  sessionsCleared: [SessionsClearedEvent];
}

export type LifecycleEvent = Exclude<keyof StoreEvents, 'connect' | 'disconnect'>;

/** What the store emits on: its own EventEmitter. */
export interface EventTarget {
  listenerCount(event: string): number;
  emit(event: string, ...args: unknown[]): boolean;
}

/**
 * Emits a lifecycle event when somebody listens (its payload is made only then), on the next
 * tick: a listener that throws fails like any listener, never the operation.
 */
export function emitLifecycle<E extends LifecycleEvent>(
  target: EventTarget | undefined,
  event: E,
  payload: () => StoreEvents[E][0],
): void {
  if (target === undefined || target.listenerCount(event) === 0) return;
  const value = payload();
  process.nextTick(() => target.emit(event, value));
}
