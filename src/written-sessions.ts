import { performance } from 'node:perf_hooks';
import { PGStoreError } from './errors.js';

/**
 * Read-your-writes for `readPool`, in this process: which WAL position of the primary a replica
 * must have replayed before it may answer a `get` for a session id this process wrote.
 *
 * A write is remembered by the time it ended (acknowledged or failed: a failed write may have
 * landed). The primary's WAL insert position, read by a statement *sent after* that time, is
 * at or past the end of the write's commit record: a replica that has replayed up to it shows
 * the write. Those positions are sampled (see `ReplicaReads`), not returned by the writes, so
 * the write statements stay as they are.
 *
 * Bounded: ids are remembered one by one for `maxAgeMs`, at most `maxSessions` of them. An id
 * forgotten earlier raises the floor, a time that applies to every id: a replica must then
 * have replayed everything written up to it. `clear()` raises the floor to its own end.
 */
export interface WrittenSessionsLimits {
  readonly maxSessions: number;
  readonly maxAgeMs: number;
}

export const DEFAULT_WRITTEN_SESSIONS_LIMITS: WrittenSessionsLimits = Object.freeze({
  maxSessions: 100_000,
  maxAgeMs: 60_000,
});

/** What `requiredPosition` gives when nothing this process wrote applies: any server may answer. */
export const ANY_POSITION = 0n;

/** The primary's WAL position, read by a statement sent at `sentAt`. */
interface PositionSample {
  readonly sentAt: number;
  readonly lsn: bigint;
}

/** A `pg_lsn` as text (`16/B374D848`) → a number that compares as positions do. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text);
  if (match === null)
    throw new PGStoreError('ERR_UNEXPECTED_REPLY', `connect-pg-simple: not a WAL position: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export class WrittenSessions {
  readonly #limits: WrittenSessionsLimits;
  readonly #now: () => number;
  /**
   * When this process's last write of each session ended, by the id as the table stores it
   * (hashed by default: the cookie's id is not kept in memory); oldest first (a write moves its id last).
   */
  readonly #writtenAt = new Map<string, number>();
  /** Writes that ended at or before this time apply to every id. */
  #floorAt = Number.NEGATIVE_INFINITY;
  #latestWriteAt = Number.NEGATIVE_INFINITY;
  /** In the order they were sent; none sent at or before the floor (they cover nothing). */
  #samples: PositionSample[] = [];

  constructor(limits: WrittenSessionsLimits = DEFAULT_WRITTEN_SESSIONS_LIMITS, now = () => performance.now()) {
    this.#limits = limits;
    this.#now = now;
  }

  /** How many ids are remembered one by one. */
  get size(): number {
    return this.#writtenAt.size;
  }

  /** A write of the session stored as `storedId` ended now. */
  wrote(storedId: string): void {
    const now = this.#now();
    this.#writtenAt.delete(storedId);
    this.#writtenAt.set(storedId, now);
    this.#latestWriteAt = now;
    this.#forgetOld(now);
  }

  /** A write of every id (`clear()`) ended now. */
  wroteAll(): void {
    const now = this.#now();
    this.#writtenAt.clear();
    this.#raiseFloor(now);
    this.#latestWriteAt = now;
  }

  /**
   * The position a replica must have replayed to answer for the session stored as `storedId`: `ANY_POSITION` when no write
   * of this process applies; undefined when no sample covers the write yet (the primary answers).
   */
  requiredPosition(storedId: string): bigint | undefined {
    this.#forgetOld(this.#now());
    const at = Math.max(this.#writtenAt.get(storedId) ?? Number.NEGATIVE_INFINITY, this.#floorAt);
    if (at === Number.NEGATIVE_INFINITY) return ANY_POSITION;
    return this.#firstSentAfter(at)?.lsn;
  }

  /** A write ended after the last sample was sent. */
  get needsSample(): boolean {
    const last = this.#samples.at(-1);
    return this.#latestWriteAt > (last?.sentAt ?? Number.NEGATIVE_INFINITY);
  }

  /** A statement sent at `sentAt` read the primary's WAL position `lsn`. */
  sampled(sentAt: number, lsn: bigint): void {
    const last = this.#samples.at(-1);
    if (sentAt <= this.#floorAt || (last !== undefined && (sentAt <= last.sentAt || lsn < last.lsn))) return;
    this.#samples.push({ sentAt, lsn });
  }

  #forgetOld(now: number): void {
    for (const [storedId, at] of this.#writtenAt) {
      if (this.#writtenAt.size <= this.#limits.maxSessions && now - at < this.#limits.maxAgeMs) break;
      this.#writtenAt.delete(storedId);
      this.#raiseFloor(at);
    }
  }

  #raiseFloor(at: number): void {
    if (at <= this.#floorAt) return;
    this.#floorAt = at;
    let stale = 0;
    while (stale < this.#samples.length && this.#samples[stale]!.sentAt <= at) stale++;
    if (stale > 0) this.#samples = this.#samples.slice(stale);
  }

  /** The first sample sent after `at`: the earliest position sure to include what ended at `at`. */
  #firstSentAfter(at: number): PositionSample | undefined {
    const samples = this.#samples;
    let low = 0;
    let high = samples.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (samples[middle]!.sentAt > at) high = middle;
      else low = middle + 1;
    }
    return samples[low];
  }
}
