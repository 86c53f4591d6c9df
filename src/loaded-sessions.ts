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
}

/** An entry older than this is not trusted to describe a request still in flight. */
const MAX_AGE_MS = 5 * 60_000;

export class LoadedSessions {
  readonly #entries = new Map<string, LoadedSession>();
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
  remember(sid: string, text: string, remainingSeconds: number, at: number): void {
    this.#entries.delete(sid);
    this.#entries.set(sid, { text, remainingSeconds, at });
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

  forget(sid: string): void {
    this.#entries.delete(sid);
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** Seconds the stored row has left now, by the database's reckoning at read time. */
export const monotonicNow = (): number => performance.now();

export function secondsLeft(entry: LoadedSession): number {
  return entry.remainingSeconds - (performance.now() - entry.at) / 1000;
}
