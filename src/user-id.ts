import { typeError } from './errors.js';
import type { DescribeSession, SessionObject, UserIdOf } from './types.js';

/**
 * Which user a session belongs to, and what the app records about its device (`userId` and
 * `describe`): turned into what the row's `user_id` and `details` columns hold.
 */

/** Longest user id accepted, in UTF-8 bytes: far below the index's row limit. */
const MAX_USER_ID_BYTES = 1024;

/** Largest `describe` result, as JSON text, in UTF-8 bytes: metadata, not a second session. */
export const MAX_DETAILS_BYTES = 1024;

/**
 * A user id as the `user_id` column holds it (a number as its decimal text): the one rule for ids
 * the `userId` option returns and for ids given to the per-user methods. Undefined when the value
 * is none the column can hold (of another type, empty, with NUL or a lone surrogate, too long).
 */
export function userIdText(value: unknown): string | undefined {
  let text: string | undefined;
  if (typeof value === 'string' && value.length > 0) text = value;
  else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
  else if (typeof value === 'bigint') text = value.toString();
  if (text === undefined || text.includes('\0') || Buffer.byteLength(text) > MAX_USER_ID_BYTES) return undefined;
  return (text as string & { isWellFormed(): boolean }).isWellFormed() ? text : undefined;
}

/** A user id as the column stores it, or null; `strict` throws on a value of another type. */
function storedUserId(value: unknown, strict: boolean): string | null {
  if (value === null || value === undefined) return null;
  const text = userIdText(value);
  if (text === undefined) {
    if (!strict) return null;
    throw typeError(
      'ERR_INVALID_RETURN_VALUE',
      `connect-pg-simple: option "userId" must return a non-empty string (at most ${MAX_USER_ID_BYTES} bytes, no NUL characters), a finite number, null or undefined, got ${describeValue(value)}`,
    );
  }
  return text;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return value.length === 0 ? 'an empty string' : 'a string it cannot store';
  if (typeof value === 'number') return `number ${value}`;
  return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * The default: `session.userId`, else Passport's `session.passport.user`. A value that cannot
 * be a user id (Passport serializing a whole user object, say) counts as none.
 */
function defaultUserId(session: SessionObject): string | null {
  const own = session.userId;
  if (own !== undefined && own !== null) return storedUserId(own, false);
  const passport = session.passport;
  if (typeof passport !== 'object' || passport === null) return null;
  return storedUserId((passport as { user?: unknown }).user, false);
}

/** The store's user id function: the app's own (checked on every call), or the default. */
export function userIdFunction(given: UserIdOf | undefined): (session: SessionObject) => string | null {
  if (given === undefined) return defaultUserId;
  return (session) => storedUserId(given(session), true);
}

/** The request express-session hangs on its sessions (not enumerable), if there is one. */
function requestOf(session: SessionObject): unknown {
  return (session as { req?: unknown }).req;
}

/**
 * `describe`'s result as the JSON text the `details` column stores, or null for none. A result
 * that is not a flat object of strings, numbers, booleans and nulls, or is larger than
 * MAX_DETAILS_BYTES, is a TypeError: it would not be metadata.
 */
export function detailsText(describe: DescribeSession | undefined, session: SessionObject): string | null {
  if (describe === undefined) return null;
  const details: unknown = describe(session, requestOf(session));
  if (details === undefined || details === null) return null;
  if (typeof details !== 'object' || Array.isArray(details)) {
    throw typeError(
      'ERR_INVALID_RETURN_VALUE',
      `connect-pg-simple: option "describe" must return a plain object or undefined, got ${describeValue(details)}`,
    );
  }
  for (const [key, value] of Object.entries(details)) {
    const ok =
      value === null ||
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value));
    if (!ok) {
      throw typeError(
        'ERR_INVALID_RETURN_VALUE',
        `connect-pg-simple: option "describe" must return an object of strings, numbers, booleans and nulls; its "${key}" is ${describeValue(value)}`,
      );
    }
  }
  const text = JSON.stringify(details);
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_DETAILS_BYTES) {
    throw typeError(
      'ERR_INVALID_RETURN_VALUE',
      `connect-pg-simple: option "describe" returned ${bytes} bytes of JSON, more than ${MAX_DETAILS_BYTES}: keep it to small metadata (user agent, IP, device name)`,
    );
  }
  return text;
}
