/**
 * The automatic prune timer: the next prune comes one (jittered) interval after the last one
 * ended, manual or automatic. The timer never keeps the process alive.
 */
export class PruneSchedule {
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #stopped = false;

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
    let delayMs = this.intervalMs;
    try {
      delayMs = this.delay(this.intervalMs);
    } catch (error) {
      this.onError(error);
    }
    if (!Number.isFinite(delayMs) || delayMs < 0) delayMs = this.intervalMs;
    this.#timer = setTimeout(() => this.#run(), delayMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    this.#clear();
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
