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
  /**
   * performance.now() until which the row is known to exist, by what reads found (this process's
   * writes never move it later: a write may have found the row gone).
   */
  readonly aliveUntil: number;
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

  /** The entry as it is now, with no age check: what a statement about to be sent starts from. */
  peek(sid: string): LoadedSession | undefined {
    return this.#entries.get(sid);
  }

  /**
   * Records what a statement found or wrote. `entry.at` is when the statement was sent: the
   * database's `now()` is no earlier than that, so the entry errs on the side of less time left.
   * `startedFrom` is the entry when the statement was sent (`peek`): if another operation changed
   * the entry meanwhile, which of the two the table now holds is not known, and the entry is
   * dropped instead (a miss is always safe).
   */
  remember(sid: string, entry: LoadedSession, startedFrom: LoadedSession | undefined): void {
    // A statement sent before the session was destroyed (or all were cleared) here describes
    // what is gone: a read still in flight at the time must not bring it back.
    if (entry.at <= this.#clearedAt) return;
    const forgottenAt = this.#forgotten.get(sid);
    if (forgottenAt !== undefined && entry.at <= forgottenAt) return;
    const current = this.#entries.get(sid);
    this.#entries.delete(sid);
    if (current !== startedFrom) return;
    this.#entries.set(sid, entry);
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
    if (entry?.readAt === undefined) return undefined;
    const now = performance.now();
    return now - entry.readAt < maxAgeMs && now < entry.aliveUntil ? entry : undefined;
  }

  forget(sid: string): void {
    this.#entries.delete(sid);
    this.#forgotten.delete(sid);
    this.#forgotten.set(sid, performance.now());
    if (this.#forgotten.size > this.#capacity) {
      const [oldestSid, oldestAt] = this.#forgotten.entries().next().value as [string, number];
      this.#forgotten.delete(oldestSid);
      // Its statements in flight must still not be remembered: nor, to be sure, any as old.
      if (oldestAt > this.#clearedAt) this.#clearedAt = oldestAt;
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
