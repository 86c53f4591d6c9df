import { performance } from 'node:perf_hooks';

/**
 * What a load against stores that fail on purpose (restarts, a failover) keeps, to check
 * afterwards that nothing was lost: every callback handed out, and every session write.
 */

/** Every callback handed out, and how often each was called. */
export class CallbackLedger {
  #next = 0;
  readonly #lostAfterMs: number;
  readonly calls = new Map<number, number>();
  /** How long each call that failed took, in ms. */
  readonly failedAfterMs: number[] = [];
  lost = 0;

  /** `lostAfterMs`: a callback later than this counts as lost (far past any operation time limit). */
  constructor(lostAfterMs: number) {
    this.#lostAfterMs = lostAfterMs;
  }

  call<T>(invoke: (callback: (error: unknown, value?: T) => void) => void): Promise<{ error: unknown; value?: T }> {
    const id = this.#next++;
    this.calls.set(id, 0);
    const started = performance.now();
    return new Promise((resolve) => {
      const watchdog = setTimeout(() => {
        this.lost++;
        resolve({ error: new Error('callback lost') });
      }, this.#lostAfterMs);
      invoke((error, value) => {
        this.calls.set(id, (this.calls.get(id) ?? 0) + 1);
        clearTimeout(watchdog);
        if (error) this.failedAfterMs.push(performance.now() - started);
        resolve({ error, value });
      });
    });
  }
}

/**
 * The values a load wrote to each session, numbered: the newest one acknowledged, and those begun
 * after it or acknowledged later (a write that failed may still have landed; two writes in flight
 * together may commit in either order). Any other stored value is a lost write.
 */
export class AckedWrites {
  #counter = 0;
  readonly #sessions = new Map<string, { acked: number; since: number[]; count: number }>();

  /** A session the load writes, stored with the value 0 before it starts. */
  add(sid: string): void {
    this.#sessions.set(sid, { acked: 0, since: [], count: 0 });
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  /** How many writes were acknowledged in all. */
  get acknowledged(): number {
    return [...this.#sessions.values()].reduce((sum, r) => sum + r.count, 0);
  }

  /** Writes `sid`'s next value with `write`; resolves with its error, undefined when acknowledged. */
  async write(sid: string, write: (n: number) => Promise<{ error: unknown }>): Promise<unknown> {
    const record = this.#sessions.get(sid)!;
    const n = ++this.#counter;
    record.since.push(n);
    const { error } = await write(n);
    if (error) return error;
    record.count++;
    if (n > record.acked) {
      record.acked = n;
      // Writes begun after this one were in flight beside it: they may land after it, acknowledged or not.
      record.since = record.since.filter((m) => m > n);
    } else {
      // A write acknowledged after a newer one was: the two were in flight together, either may be last.
      record.since.push(n);
    }
    return undefined;
  }

  /** For each session whose stored value (`storedOf`) is no value the load may have left: a line saying so. */
  lostWrites(storedOf: (sid: string) => number | undefined): string[] {
    return [...this.#sessions]
      .filter(([sid, r]) => {
        const n = storedOf(sid);
        return n !== r.acked && !(n !== undefined && r.since.includes(n));
      })
      .map(([sid, r]) => `${sid}: stored ${storedOf(sid)}, acknowledged ${r.acked}`);
  }
}
