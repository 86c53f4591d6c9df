import type { Database } from './drivers/database.js';
import { rangeError } from './errors.js';
import type { ResolvedOptions } from './option-types.js';
import { pruneSessions } from './prune-sessions.js';
import type { TableNames } from './sql.js';
import type { TableWatch } from './table-watch.js';
import { type Deadline, MAX_TIMER_MS, type OperationsInFlight } from './time-limit.js';

export interface PrunerSettings {
  readonly db: Database;
  readonly names: TableNames;
  readonly options: Pick<ResolvedOptions, 'pruneBatchSize' | 'pruneLock' | 'pruneIntervalMs' | 'pruneDelay'>;
  /** The table as the last check found it: a prune waits for the first check. */
  readonly watch: TableWatch;
  readonly inFlight: OperationsInFlight;
  /** Asked after each batch: the store is closing. */
  readonly stopRequested: () => boolean;
  /** The timer's prune (the store's, so that it is traced as such): it calls `prune` in the end. */
  readonly onSchedule: () => Promise<unknown>;
  /** Told of a failed timed prune, and of a bad jittered delay. */
  readonly onError: (error: unknown) => void;
}

/**
 * The store's prunes (its `prune()` and its timer's), each counted as an operation in flight, and
 * the timer: the next prune comes one (jittered) interval after the last one ended.
 */
export class Pruner {
  readonly #settings: PrunerSettings;
  readonly #schedule: PruneSchedule;
  /** The xmin the last prune saw: the next one trims the change log below it. */
  #changeLogXmin: string | null = null;

  constructor(settings: PrunerSettings) {
    this.#settings = settings;
    const { pruneIntervalMs, pruneDelay } = settings.options;
    this.#schedule = new PruneSchedule(pruneIntervalMs, pruneDelay, settings.onSchedule, settings.onError);
  }

  /** Schedules the first timed prune, if none is scheduled yet (the store's first operation does). */
  start(): void {
    this.#schedule.start();
  }

  /** Stops the timer for good. */
  stop(): void {
    this.#schedule.stop();
  }

  /** A prune asked for (`prune()`): the next timed one is one interval after it ends. */
  async pruneNow(): Promise<number> {
    try {
      return await this.prune();
    } finally {
      this.#schedule.reschedule();
    }
  }

  /** A prune, counted as in flight; each batch has its own time limit, as a backlog may take many. */
  async prune(): Promise<number> {
    const { inFlight } = this.#settings;
    const untimed = inFlight.begin('pruning sessions', false);
    try {
      return await this.#prune();
    } finally {
      inFlight.end(untimed);
    }
  }

  /**
   * A prune; each step (a batch, the partitions' upkeep) has its own time limit. A dropped
   * partition's rows count as the planner's statistics estimate them.
   */
  async #prune(): Promise<number> {
    const { db, names, options, watch, inFlight, stopRequested } = this.#settings;
    if (!watch.isReady) await watch.whenReady();
    const table = watch.table;
    const step = async <T>(run: (deadline: Deadline | undefined) => Promise<T>) => {
      const deadline = inFlight.begin('pruning sessions');
      try {
        return await run(deadline);
      } finally {
        inFlight.end(deadline);
      }
    };
    const { deleted, partitions, changeLogXmin } = await pruneSessions(
      db,
      names,
      table.statements.pruneBatch,
      table.partitioning,
      {
        batchSize: options.pruneBatchSize,
        lock: { partitions: options.pruneLock, batches: options.pruneLock },
        step,
        stopRequested,
        changeLogXmin: this.#changeLogXmin,
      },
    );
    this.#changeLogXmin = changeLogXmin;
    return deleted + Math.round(partitions?.droppedRowEstimate ?? 0);
  }
}

/** The automatic prune timer; it never keeps the process alive. */
class PruneSchedule {
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
