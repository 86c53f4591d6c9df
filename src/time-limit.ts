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

/**
 * Runs `run` with a time limit: the result settles by the deadline at the latest, whatever the
 * driver does. At the deadline the signal given to `run` aborts, so that the driver can cancel
 * the statement on the server; its late outcome is ignored. `false` means no limit (no signal).
 */
export function withTimeLimit<T>(
  timeoutMs: number | false,
  what: string,
  run: (signal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  if (timeoutMs === false) return run(undefined);
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new OperationTimeoutError(what, timeoutMs);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
    const done = () => clearTimeout(timer);
    let running: Promise<T>;
    try {
      running = run(controller.signal);
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}
