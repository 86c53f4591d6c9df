/** The error an operation fails with when it outlives `operationTimeout`. */
export class OperationTimeoutError extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';
  constructor(
    what: string,
    readonly timeoutMs: number,
  ) {
    super(`connect-pg-simple: ${what} took longer than operationTimeout (${timeoutMs} ms)`);
  }
}

/** An operation's time limit, as a driver adapter sees it. */
export interface Deadline {
  /** The error the operation failed with, once its time ran out; undefined until then. */
  readonly expired: OperationTimeoutError | undefined;
  /**
   * Called once if the time runs out while it is set. A driver adapter sets it while a statement
   * runs (to cancel that statement) and clears it when the statement ends.
   */
  onExpire: (() => void) | undefined;
}

/** One operation under a time limit: a node of the list of operations in flight, oldest first. */
class TimedOperation implements Deadline {
  expired: OperationTimeoutError | undefined = undefined;
  onExpire: (() => void) | undefined = undefined;
  previous: TimedOperation | undefined = undefined;
  next: TimedOperation | undefined = undefined;
  listed = true;
  reject: ((error: Error) => void) | undefined = undefined;

  constructor(
    readonly what: string,
    readonly endsAt: number,
  ) {}
}

/**
 * The operations a store has in flight, with their time limits. All of them share one limit, so
 * the oldest always ends first: a list in start order and one timer set for its head replace a
 * timer (and an AbortController) per operation, which cost more than the rest of a `get`.
 */
export class OperationsInFlight {
  readonly #timeoutMs: number | false;
  /** How late an expiry may be handled: operations that end this close together share a wake-up. */
  readonly #slackMs: number;
  #oldest: TimedOperation | undefined;
  #newest: TimedOperation | undefined;
  #timer: NodeJS.Timeout | undefined;
  #count = 0;
  #idle: (() => void) | undefined;

  constructor(timeoutMs: number | false) {
    this.#timeoutMs = timeoutMs;
    this.#slackMs = timeoutMs === false ? 0 : Math.min(50, Math.max(1, timeoutMs / 100));
  }

  get count(): number {
    return this.#count;
  }

  /** Resolves when no operation is in flight. */
  whenIdle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#idle;
      this.#idle = () => {
        previous?.();
        resolve();
      };
    });
  }

  /**
   * Runs `work`, counted as in flight until it settles. With a time limit, the result settles by
   * the deadline at the latest, whatever the driver does: at the deadline the operation fails with
   * an OperationTimeoutError, `deadline.onExpire` is called (to cancel the statement on the
   * server), and the late outcome is ignored.
   */
  run<T>(what: string, work: (deadline: Deadline | undefined) => Promise<T>, timeLimit = true): Promise<T> {
    const timeoutMs = timeLimit ? this.#timeoutMs : false;
    this.#count += 1;
    if (timeoutMs === false) {
      const running = start(work, undefined);
      running.then(this.#settled, this.#settled);
      return running;
    }
    const operation = new TimedOperation(what, performance.now() + timeoutMs);
    this.#append(operation);
    const running = start(work, operation);
    return new Promise<T>((resolve, reject) => {
      operation.reject = reject;
      running.then(
        (value) => {
          this.#unlist(operation);
          resolve(value);
        },
        (error: unknown) => {
          this.#unlist(operation);
          reject(error);
        },
      );
    });
  }

  readonly #settled = (): void => {
    this.#count -= 1;
    if (this.#count === 0 && this.#idle !== undefined) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  };

  #append(operation: TimedOperation): void {
    if (this.#newest === undefined) {
      this.#oldest = operation;
      this.#timer ??= setTimeout(this.#expireDue, this.#timeoutMs as number);
    } else {
      this.#newest.next = operation;
      operation.previous = this.#newest;
    }
    this.#newest = operation;
  }

  /** Takes a settled (or expired) operation off the list; the first call of each only counts. */
  #unlist(operation: TimedOperation): void {
    if (!operation.listed) return;
    operation.listed = false;
    const { previous, next } = operation;
    if (previous === undefined) this.#oldest = next;
    else previous.next = next;
    if (next === undefined) this.#newest = previous;
    else next.previous = previous;
    operation.previous = operation.next = undefined;
    if (this.#oldest === undefined && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#settled();
  }

  readonly #expireDue = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    // Operations that end within the slack are expired now rather than each on a wake-up of its own.
    while (this.#oldest !== undefined && this.#oldest.endsAt <= now + this.#slackMs) {
      const operation = this.#oldest;
      const error = new OperationTimeoutError(operation.what, this.#timeoutMs as number);
      operation.expired = error;
      this.#unlist(operation);
      operation.reject?.(error);
      const onExpire = operation.onExpire;
      operation.onExpire = undefined;
      try {
        onExpire?.();
      } catch {
        // Cancelling is best effort: the operation has failed with its timeout already.
      }
    }
    if (this.#oldest !== undefined && this.#timer === undefined) {
      this.#timer = setTimeout(this.#expireDue, Math.max(this.#oldest.endsAt - now, this.#slackMs));
    }
  };
}

function start<T>(work: (deadline: Deadline | undefined) => Promise<T>, deadline: Deadline | undefined): Promise<T> {
  try {
    return work(deadline);
  } catch (error) {
    return Promise.reject(error);
  }
}
