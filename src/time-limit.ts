import { OperationTimeoutError } from './errors.js';

/** The longest delay a Node.js timer takes; a longer one fires after 1 ms instead. */
export const MAX_TIMER_MS = 2_147_483_647;

/** An operation's time limit, as a driver adapter sees it. */
export interface Deadline {
  /** The error the operation failed with, once its time ran out; undefined until then. */
  readonly expired: OperationTimeoutError | undefined;
  /**
   * Called once if the time runs out while it is set. A driver adapter sets it while a statement
   * runs, to fail the statement's promise at once and cancel the statement, and clears it when
   * the statement ends.
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

  constructor(
    readonly what: string,
    readonly endsAt: number,
  ) {}
}

/**
 * The operations a store has in flight, with their time limits. All of them share one limit, so
 * the oldest always ends first: a list in start order and one timer set for its head replace a
 * timer (and an AbortController) per operation, which cost more than the rest of a `get`.
 *
 * An operation under a time limit must settle by its deadline: every statement it waits for is
 * sent with the deadline, and the driver adapter fails it when the deadline expires (see
 * `Database.query`). No promise wraps the operation as a whole.
 */
export class OperationsInFlight {
  readonly #timeoutMs: number | false;
  #oldest: TimedOperation | undefined;
  #newest: TimedOperation | undefined;
  #timer: NodeJS.Timeout | undefined;
  #count = 0;
  #idle: (() => void) | undefined;

  constructor(timeoutMs: number | false) {
    this.#timeoutMs = timeoutMs;
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
   * Counts an operation in flight until `end`; with a time limit (unless `timeLimit` is false or
   * the store has none), returns its deadline, which expires `operationTimeout` from now.
   */
  begin(what: string, timeLimit = true): Deadline | undefined {
    this.#count += 1;
    if (!timeLimit || this.#timeoutMs === false) return undefined;
    const operation = new TimedOperation(what, performance.now() + this.#timeoutMs);
    if (this.#newest === undefined) {
      this.#oldest = operation;
      this.#timer ??= setTimeout(this.#expireDue, this.#timeoutMs);
    } else {
      this.#newest.next = operation;
      operation.previous = this.#newest;
    }
    this.#newest = operation;
    return operation;
  }

  /** Ends what `begin` began: call it exactly once for each `begin`, with what it returned. */
  end(deadline: Deadline | undefined): void {
    if (deadline !== undefined) this.#unlist(deadline as TimedOperation);
    this.#count -= 1;
    if (this.#count === 0 && this.#idle !== undefined) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }

  /** Takes an operation off the list of deadlines, when it ends or expires, whichever is first. */
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
  }

  readonly #expireDue = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    while (this.#oldest !== undefined && this.#oldest.endsAt <= now) {
      const operation = this.#oldest;
      operation.expired = new OperationTimeoutError(operation.what, this.#timeoutMs as number);
      this.#unlist(operation);
      const onExpire = operation.onExpire;
      operation.onExpire = undefined;
      try {
        onExpire?.();
      } catch {
        // Cancelling is best effort: the operation has failed with its timeout already.
      }
    }
    if (this.#oldest !== undefined && this.#timer === undefined) {
      // A timer may fire a little early by performance.now(): then it waits out the rest.
      this.#timer = setTimeout(this.#expireDue, Math.max(1, Math.ceil(this.#oldest.endsAt - now)));
    }
  };
}

/**
 * Settles with `running`, or fails with the deadline's error as soon as the deadline expires,
 * whichever comes first; `cancel` is called on expiry. For drivers that give no finer control.
 */
export function untilDeadline<T>(
  running: PromiseLike<T>,
  deadline: Deadline | undefined,
  cancel?: () => void,
): Promise<T> {
  if (deadline === undefined) return Promise.resolve(running);
  if (deadline.expired !== undefined) return Promise.reject(deadline.expired);
  return new Promise<T>((resolve, reject) => {
    deadline.onExpire = () => {
      reject(deadline.expired);
      cancel?.();
    };
    running.then(
      (value) => {
        deadline.onExpire = undefined;
        resolve(value);
      },
      (error: unknown) => {
        deadline.onExpire = undefined;
        reject(error);
      },
    );
  });
}
