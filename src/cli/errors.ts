import { PGStoreError } from '../errors.js';

/** A mistake on the command line: exit code 2. */
export class UsageError extends PGStoreError {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    /** The command whose help to point at, if any. */
    readonly command?: string,
  ) {
    super('ERR_CLI_USAGE', message);
  }
}

/** Something went wrong doing the work (database, network, environment): exit code 1. */
export class OperationalError extends PGStoreError {
  override readonly name = 'OperationalError';
  constructor(message: string) {
    super('ERR_CLI_FAILED', message);
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** Hints for SQLSTATEs an operator may meet, keyed by code. */
const HINTS: Readonly<Record<string, string>> = {
  '55P03': 'other sessions kept the table locked; retry at a quieter time, or raise --lock-timeout',
  '42P01': 'create the table with `connect-pg-simple migrate`',
  '3F000': 'create the schema first, or check --schema',
  '42501': 'the database user lacks a privilege this needs',
};

const PREFIX = /^connect-pg-simple:\s*/;

/** A credential-free, single-line account of an error: never a stack trace. */
export function describeError(error: unknown, secrets: readonly string[]): string {
  const e = error as { message?: unknown; code?: unknown; errors?: unknown } | null;
  let message = typeof e?.message === 'string' ? e.message : String(error);
  // Node reports a failed connection to every address of a host as an AggregateError, without a message.
  if (message === '' && Array.isArray(e?.errors)) {
    message = e.errors.map((inner: { message?: unknown }) => String(inner?.message)).join('; ');
  }
  if (message === '' && typeof e?.code === 'string') message = e.code;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const hint = code === undefined ? undefined : HINTS[code];
  if (hint !== undefined) message = `${message} (${hint})`;
  return redact(message.replace(PREFIX, '').replace(/\s*\n\s*/g, ' '), secrets);
}

/** Replaces every secret, and any password in a connection URL, with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^/?#\s]*@/gi, '$1***@');
  for (const secret of secrets) if (secret.length > 0) out = out.replaceAll(secret, '***');
  return out;
}
