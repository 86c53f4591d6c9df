import { PGStoreError, typeError } from './errors.js';

/** Node-style callback of a store method. */
export type Callback<T = void> = (error: any, value?: T) => void;

const noop = () => {};

/**
 * The one place where a promise meets a callback. A callback that is not a function is refused
 * before the operation starts. With a callback, the operation's outcome goes to it exactly once,
 * on a later tick (so a callback that throws cannot be called again). Without one, the promise is
 * returned, already marked handled, so an ignored failure is never an unhandled rejection.
 */
export function settle<T>(start: () => Promise<T>, callback: unknown, method: string): Promise<T> | undefined {
  if (callback !== undefined && callback !== null && typeof callback !== 'function') {
    throw typeError(
      'ERR_INVALID_ARG',
      `connect-pg-simple: the callback of ${method}() must be a function, got ${typeof callback}`,
    );
  }
  const promise = start();
  if (callback === undefined || callback === null) {
    promise.catch(noop);
    return promise;
  }
  promise.then(
    (value) => process.nextTick(callback as Callback<T>, null, value),
    (error: unknown) =>
      process.nextTick(
        callback as Callback<T>,
        error ?? new PGStoreError('ERR_UNKNOWN_FAILURE', `connect-pg-simple: ${method}() failed`),
      ),
  );
  return undefined;
}
