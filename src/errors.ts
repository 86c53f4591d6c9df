/**
 * Every error connect-pg-simple raises, each with a stable `code` to switch on (the message is
 * for people and may change). docs/errors.md lists the codes and what to do about each.
 *
 * The store's own failures are a `PGStoreError` (or a class derived from it). A mistake in how
 * the store is configured or called stays a `TypeError` (a size limit: a `RangeError`), as
 * Node's own are, with a `code` too.
 */

/** The codes of `TypeError`s and `RangeError`s: a mistake in the options, an argument or a session. */
export type MistakeCode =
  /** An option is wrong, unknown or combined with one it cannot go with. */
  | 'ERR_INVALID_OPTION'
  /** A method was called with a wrong argument (a session id, a user id, a callback, its options). */
  | 'ERR_INVALID_ARG'
  /** A session given to be stored is not an object, or cannot be stored as JSON. */
  | 'ERR_INVALID_SESSION'
  /** A function given as an option (`ttl`, `userId`, `describe`, ...) returned a value it must not. */
  | 'ERR_INVALID_RETURN_VALUE'
  /** A session is larger as JSON than `maxSessionSize` (a `RangeError`). */
  | 'ERR_SESSION_TOO_LARGE';

/** A `TypeError` (or `RangeError`) of this package: a mistake of its caller, with a stable code. */
export interface MistakeError extends Error {
  readonly code: MistakeCode;
}

/** A `TypeError` with a code, as Node's own argument errors are. */
export function typeError(code: MistakeCode, message: string, options?: ErrorOptions): TypeError & MistakeError {
  return Object.assign(new TypeError(message, options), { code });
}

/** A `RangeError` with a code, as Node's own are. */
export function rangeError(code: MistakeCode, message: string): RangeError & MistakeError {
  return Object.assign(new RangeError(message), { code });
}

/** The base class of the store's own errors: `error instanceof PGStoreError`, then switch on `code`. */
export class PGStoreError extends Error {
  override readonly name: string = 'PGStoreError';
  constructor(
    /** Stable: see docs/errors.md. */
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An operation called after `close()`. */
export class StoreClosedError extends PGStoreError {
  override readonly name = 'StoreClosedError';
  constructor() {
    super('ERR_STORE_CLOSED', 'connect-pg-simple: the store is closed');
  }
}

/** An operation that outlived `operationTimeout`: named `TimeoutError`, code `ETIMEDOUT`, as Node's timeouts are. */
export class OperationTimeoutError extends PGStoreError {
  override readonly name = 'TimeoutError';
  constructor(
    /** What ran out of time, such as `get()`. */
    readonly what: string,
    readonly timeoutMs: number,
    /** Why, when known: what the operation was waiting for. */
    reason?: string,
  ) {
    super(
      'ETIMEDOUT',
      `connect-pg-simple: ${what} took longer than operationTimeout (${timeoutMs} ms)${reason ? `: ${reason}` : ''}`,
    );
  }
}

/**
 * A failure to connect, explained: what went wrong and what to do. It keeps the driver's error
 * as its `cause`, and the system's code when there is one (`ECONNREFUSED`, `ENOTFOUND`, ...).
 */
export class ConnectionError extends PGStoreError {
  override readonly name: string = 'ConnectionError';
  constructor(message: string, cause: unknown, code: string) {
    super(code, `connect-pg-simple: ${message}`, { cause });
  }
}

/** A connection attempt out of time: a `TimeoutError` with code `ETIMEDOUT`, as an operation out of time is. */
export class ConnectTimeoutError extends ConnectionError {
  override readonly name = 'TimeoutError';
  constructor(message: string, cause: unknown) {
    super(message, cause, 'ETIMEDOUT');
  }
}

/**
 * A session table the store cannot use as it is: missing, not a session table, newer than this
 * package, or in a form these options do not serve. Its code is PostgreSQL's SQLSTATE for the
 * same trouble (`42P01` for a missing table, ...).
 */
export class SchemaError extends PGStoreError {
  override readonly name = 'SchemaError';
  constructor(message: string, code: string) {
    super(code, message);
  }
}

/** A stored session that is not a JSON object: the store treats it as missing, and logs this. */
export class CorruptSessionError extends PGStoreError {
  override readonly name = 'CorruptSessionError';
  constructor(message: string) {
    super('ERR_CORRUPT_SESSION', message);
  }
}

/** A stored session (or its details) that the store's `encryptionKeys` cannot decrypt. */
export class DecryptionError extends PGStoreError {
  override readonly name = 'DecryptionError';
  constructor(message: string) {
    super('ERR_DECRYPTION', message);
  }
}
