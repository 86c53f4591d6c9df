import { performance } from 'node:perf_hooks';

/**
 * What this process last read or wrote for a session id, kept briefly so that the `touch` or
 * `set` that follows a `get` in the same request can skip its write, and so that a request that
 * loaded a session can update it but never bring it back once it was destroyed elsewhere.
 *
 * Only the time left is kept, measured on the database's clock and aged on this process's
 * monotonic clock: no wall clock of the app server is involved.
 */
export interface LoadedSession {
  /** The stored JSON text. */
  readonly text: string;
  /** Seconds the stored row had left when it was read or written. */
  readonly remainingSeconds: number;
  /** performance.now() when the statement was sent. */
  readonly at: number;
  /**
   * performance.now() when the statement was sent that last read this session from the table, if
   * one did: the text is no older than that read (this process may have written it since).
   */
  readonly readAt: number | undefined;
}

/** An entry older than this is not trusted to describe a request still in flight. */
const MAX_AGE_MS = 5 * 60_000;

export class LoadedSessions {
  readonly #entries = new Map<string, LoadedSession>();
  /** When each recently forgotten (destroyed) session was forgotten. */
  readonly #forgotten = new Map<string, number>();
  #clearedAt = Number.NEGATIVE_INFINITY;
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * `at` is when the statement that measured `remainingSeconds` was sent: the database's `now()`
   * is no earlier than that, so the entry errs on the side of less time left.
   */
  remember(sid: string, text: string, remainingSeconds: number, at: number, readAt: number | undefined): void {
    // A statement sent before the session was destroyed (or all were cleared) here describes
    // what is gone: a read still in flight at the time must not bring it back.
    if (at <= this.#clearedAt) return;
    const forgottenAt = this.#forgotten.get(sid);
    if (forgottenAt !== undefined && at <= forgottenAt) return;
    this.#entries.delete(sid);
    this.#entries.set(sid, { text, remainingSeconds, at, readAt });
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  recall(sid: string): LoadedSession | undefined {
    const entry = this.#entries.get(sid);
    if (entry === undefined) return undefined;
    if (performance.now() - entry.at > MAX_AGE_MS) {
      this.#entries.delete(sid);
      return undefined;
    }
    return entry;
  }

  /**
   * The entry, if it was read from the table less than `maxAgeMs` ago and has time left: what a
   * `get` may answer without a query, since no change made elsewhere can be older than `maxAgeMs`.
   */
  recallRead(sid: string, maxAgeMs: number): LoadedSession | undefined {
    const entry = this.#entries.get(sid);
    if (entry?.readAt === undefined || performance.now() - entry.readAt >= maxAgeMs) return undefined;
    return secondsLeft(entry) > 0 ? entry : undefined;
  }

  forget(sid: string): void {
    this.#entries.delete(sid);
    this.#forgotten.delete(sid);
    this.#forgotten.set(sid, performance.now());
    if (this.#forgotten.size > this.#capacity) {
      const oldest = this.#forgotten.keys().next();
      if (!oldest.done) this.#forgotten.delete(oldest.value);
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#forgotten.clear();
    this.#clearedAt = performance.now();
  }
}

/** Seconds the stored row has left now, by the database's reckoning at read time. */
export const monotonicNow = (): number => performance.now();

export function secondsLeft(entry: LoadedSession): number {
  return entry.remainingSeconds - (performance.now() - entry.at) / 1000;
}
