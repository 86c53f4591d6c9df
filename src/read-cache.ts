import { performance } from 'node:perf_hooks';

/** One session as the cache holds it. */
export interface CachedSession {
  readonly text: string;
  /** Clock time when the statement that read this session from the table was sent. */
  readonly readAt: number;
  /** Clock time until which the row is known to exist, by what reads found. */
  readonly aliveUntil: number;
  /** The row's user id as that read found it (schema 3); undefined when not known. */
  readonly userId?: string | null | undefined;
  /** The row's key in the change log (the trusted cache, see cache-trust.ts). */
  readonly key?: string | undefined;
  /** The transaction of this process's write that left the row holding `text`, when that is what filled the entry. */
  readonly writtenBy?: string | undefined;
}

export interface ReadCacheLimits {
  /** How long after it was read a session may be served: the bound on missing a change made elsewhere. */
  readonly maxAgeMs: number;
  /** The most session text the cache holds, in UTF-16 code units (about bytes, for JSON). */
  readonly maxBytes: number;
  /** A session larger than this is never cached. */
  readonly maxEntryBytes: number;
  /** How many recently destroyed ids are remembered, to refuse reads that were in flight. */
  readonly maxForgotten: number;
}

/** The defaults behind `readCache: ms`: 32 MB of text; a session over 512 kB is not cached. */
export const DEFAULT_READ_CACHE_LIMITS = Object.freeze({
  maxBytes: 32 * 1024 * 1024,
  maxEntryBytes: 512 * 1024,
  maxForgotten: 10_000,
});

/**
 * The `readCache`: what this process read, so that `get` may answer without a query for
 * `maxAgeMs`. Bounded by bytes; the least recently stored entries go first. The clock is
 * monotonic and injectable; times from it are compared only with each other.
 *
 * The rule that keeps it honest: a statement sent before the cache's entry for that id changed
 * (another read or write finished meanwhile), or before the id was destroyed or all were cleared
 * here, does not update it: which of the two the table now holds is not known, and a miss is
 * always safe.
 */
export class ReadCache {
  readonly #limits: ReadCacheLimits;
  readonly #now: () => number;
  readonly #entries = new Map<string, CachedSession>();
  /** When each recently destroyed id was forgotten. */
  readonly #forgotten = new Map<string, number>();
  /** The session id of each entry with a change-log key. */
  readonly #sidOfKey = new Map<string, string>();
  /** When each key the change log named was forgotten. */
  readonly #noticed = new Map<string, number>();
  #clearedAt = Number.NEGATIVE_INFINITY;
  #bytes = 0;

  constructor(limits: ReadCacheLimits, now: () => number = () => performance.now()) {
    this.#limits = limits;
    this.#now = now;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The entry as it is now: what a statement about to be sent starts from. */
  peek(sid: string): CachedSession | undefined {
    return this.#entries.get(sid);
  }

  /** The session, if it was read less than `maxAgeMs` ago and is still alive. */
  recall(sid: string): CachedSession | undefined {
    const entry = this.#entries.get(sid);
    if (entry === undefined) return undefined;
    const now = this.#now();
    return now - entry.readAt < this.#limits.maxAgeMs && now < entry.aliveUntil ? entry : undefined;
  }

  /** A read sent at `sentAt` found the row with `remainingSeconds` left. */
  rememberRead(
    sid: string,
    text: string,
    remainingSeconds: number,
    sentAt: number,
    startedFrom?: CachedSession,
    userId?: string | null,
    key?: string,
  ): void {
    if (!this.#mayUpdate(sid, sentAt, startedFrom, key)) return;
    this.#store(sid, { text, readAt: sentAt, aliveUntil: sentAt + remainingSeconds * 1000, userId, key });
  }

  /**
   * A write sent at `sentAt` stored `text` for `storedSeconds`, if the row was still alive. Only a
   * session read before is updated, and never made to live longer than reads showed.
   */
  rememberWrite(
    sid: string,
    text: string,
    storedSeconds: number,
    sentAt: number,
    startedFrom?: CachedSession,
    userId?: string | null,
  ): void {
    if (startedFrom === undefined || !this.#mayUpdate(sid, sentAt, startedFrom, startedFrom.key)) return;
    const aliveUntil = Math.min(startedFrom.aliveUntil, sentAt + storedSeconds * 1000);
    this.#store(sid, { text, readAt: startedFrom.readAt, aliveUntil, userId, key: startedFrom.key });
  }

  /**
   * A compare-and-swap sent at `sentAt`, by transaction `writtenBy`, found the row as `startedFrom`
   * holds it and left it holding `text`, alive until `aliveUntil` at least: the entry read before
   * holds that now. Otherwise (it changed meanwhile, or the id was forgotten, noticed or cleared
   * since the write was sent) the entry is forgotten.
   */
  rememberSwap(
    sid: string,
    text: string,
    aliveUntil: number,
    sentAt: number,
    startedFrom: CachedSession,
    writtenBy: string,
  ): void {
    // Refused, an entry filled meanwhile (by a read that may have been answered before the write) goes too.
    if (!this.#mayUpdate(sid, sentAt, startedFrom, startedFrom.key)) this.forget(sid);
    else this.#store(sid, { ...startedFrom, text, aliveUntil, writtenBy });
  }

  /**
   * A touch sent at `sentAt` left the row, if it still exists, at least `seconds` to live: the
   * entry read before may live as long (so that its next requests do not touch again).
   */
  extend(sid: string, seconds: number, sentAt: number, startedFrom: CachedSession | undefined): void {
    if (startedFrom === undefined || !this.#mayUpdate(sid, sentAt, startedFrom, startedFrom.key)) return;
    const aliveUntil = Math.max(startedFrom.aliveUntil, sentAt + seconds * 1000);
    this.#store(sid, { ...startedFrom, aliveUntil });
  }

  forget(sid: string): void {
    this.#drop(sid);
    this.#remember(this.#forgotten, sid);
  }

  /**
   * A key the change log named, logged by transaction `xid` (see cache-trust.ts): its entry goes,
   * unless that transaction is the write the entry holds, and reads in flight for it are not remembered.
   */
  forgetKey(key: string, xid?: string): void {
    const sid = this.#sidOfKey.get(key);
    if (sid !== undefined) {
      if (xid !== undefined && this.#entries.get(sid)?.writtenBy === xid) return;
      this.#drop(sid);
    }
    this.#remember(this.#noticed, key);
  }

  clear(): void {
    this.#entries.clear();
    this.#forgotten.clear();
    this.#sidOfKey.clear();
    this.#noticed.clear();
    this.#bytes = 0;
    this.#clearedAt = this.#now();
  }

  /** When `id` was forgotten, in a map bounded by `maxForgotten`. */
  #remember(forgotten: Map<string, number>, id: string): void {
    forgotten.delete(id);
    forgotten.set(id, this.#now());
    if (forgotten.size > this.#limits.maxForgotten) {
      const [oldestId, oldestAt] = forgotten.entries().next().value as [string, number];
      forgotten.delete(oldestId);
      // Its statements in flight must still not be remembered: nor, to be sure, any as old.
      if (oldestAt > this.#clearedAt) this.#clearedAt = oldestAt;
    }
  }

  #mayUpdate(sid: string, sentAt: number, startedFrom: CachedSession | undefined, key: string | undefined): boolean {
    if (sentAt <= this.#clearedAt) return false;
    const forgottenAt = this.#forgotten.get(sid);
    if (forgottenAt !== undefined && sentAt <= forgottenAt) return false;
    const noticedAt = key === undefined ? undefined : this.#noticed.get(key);
    if (noticedAt !== undefined && sentAt <= noticedAt) return false;
    if (this.#entries.get(sid) !== startedFrom) {
      this.#drop(sid);
      return false;
    }
    return true;
  }

  #store(sid: string, entry: CachedSession): void {
    this.#drop(sid);
    if (entry.text.length > this.#limits.maxEntryBytes) return;
    this.#entries.set(sid, entry);
    if (entry.key !== undefined) this.#sidOfKey.set(entry.key, sid);
    this.#bytes += entry.text.length;
    for (const [oldestSid] of this.#entries) {
      if (this.#bytes <= this.#limits.maxBytes) break;
      this.#drop(oldestSid);
    }
  }

  #drop(sid: string): void {
    const entry = this.#entries.get(sid);
    if (entry === undefined) return;
    this.#entries.delete(sid);
    if (entry.key !== undefined && this.#sidOfKey.get(entry.key) === sid) this.#sidOfKey.delete(entry.key);
    this.#bytes -= entry.text.length;
  }
}
