import { rangeError } from './errors.js';
import { MAX_TIMER_MS } from './time-limit.js';

/**
 * The automatic prune timer: the next prune comes one (jittered) interval after the last one
 * ended, manual or automatic. The timer never keeps the process alive.
 */
export class PruneSchedule {
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #stopped = false;
  #warnedOfDelay = false;

  constructor(
    private readonly intervalMs: number | false,
    private readonly delay: (intervalMs: number) => number,
    private readonly prune: () => Promise<unknown>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Schedules the first prune, if none is scheduled yet. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.reschedule();
  }

  /** Schedules the next prune one interval from now, replacing any scheduled one. */
  reschedule(): void {
    this.#started = true;
    this.#clear();
    if (this.intervalMs === false || this.#stopped) return;
    this.#timer = setTimeout(() => this.#run(), this.#nextDelayMs(this.intervalMs));
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    this.#clear();
  }

  /**
   * The jittered delay, kept to what a timer can wait: Node fires a timer of more than
   * MAX_TIMER_MS, or of a negative or non-number delay, after 1 ms, and pruning would then run in
   * a tight loop. A delay above the maximum waits the maximum; any other bad one, the interval.
   */
  #nextDelayMs(intervalMs: number): number {
    let delayMs: unknown;
    try {
      delayMs = this.delay(intervalMs);
    } catch (error) {
      this.onError(error);
      return intervalMs;
    }
    if (typeof delayMs === 'number' && delayMs >= 0 && delayMs <= MAX_TIMER_MS) return delayMs;
    const used = typeof delayMs === 'number' && delayMs > MAX_TIMER_MS ? MAX_TIMER_MS : intervalMs;
    if (!this.#warnedOfDelay) {
      this.#warnedOfDelay = true;
      this.onError(
        rangeError(
          'ERR_INVALID_RETURN_VALUE',
          `connect-pg-simple: pruneSessionRandomizedInterval returned ${describeDelay(delayMs)}, not a number of milliseconds from 0 to ${MAX_TIMER_MS}: waiting ${used} ms instead (said once)`,
        ),
      );
    }
    return used;
  }

  #run(): void {
    this.#timer = undefined;
    this.prune().then(
      () => this.reschedule(),
      (error: unknown) => {
        this.onError(error);
        this.reschedule();
      },
    );
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function describeDelay(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value;
}
