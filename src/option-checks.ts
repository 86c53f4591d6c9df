import { typeError } from './errors.js';
/**
 * The checks an option table entry is made of: each takes the value given and the option's name,
 * and returns what the store uses, or throws a TypeError naming the option, what it must be and
 * what it got (never a connection string, which may hold a password).
 */

export type Check<T> = (value: unknown, name: string) => T;

const looksLikeConnectionString = (text: string) => /^[a-z][a-z0-9+.-]*:\/\/|@|password=/i.test(text);

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') {
    if (looksLikeConnectionString(value)) return 'a connection string';
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** `got` in place of the value's description, for an option that may hold a password. */
export function fail(name: string, expected: string, value: unknown, got = describe(value)): never {
  throw typeError('ERR_INVALID_OPTION', `connect-pg-simple: option "${name}" must be ${expected}, got ${got}`);
}

/** Names the type of what it got, never the content: for options that may hold a password. */
const failSecret = (name: string, expected: string, value: unknown, hint = ''): never =>
  fail(name, expected, value, value === null ? 'null' : `a ${typeof value}${hint}`);

export const boolean: Check<boolean> = (value, name) =>
  typeof value === 'boolean' ? value : fail(name, 'a boolean', value);

export const fn = <T>(value: unknown, name: string): T =>
  typeof value === 'function' ? (value as T) : fail(name, 'a function', value);

/** A non-empty string without NUL characters; `secret` for one that may hold a password. */
export function nonEmptyString({ secret = false } = {}): Check<string> {
  return (value, name) => {
    const refuse = (expected: string) => (secret ? failSecret(name, expected, value) : fail(name, expected, value));
    if (typeof value !== 'string' || value.length === 0) return refuse('a non-empty string');
    if (value.includes('\0')) return refuse('a string without NUL characters');
    return value;
  };
}

export function positiveNumber(
  name: string,
  value: unknown,
  { integer = false, zeroAllowed = false }: { integer?: boolean; zeroAllowed?: boolean } = {},
): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (zeroAllowed ? value >= 0 : value > 0) &&
    (!integer || Number.isInteger(value));
  if (!ok) fail(name, `a ${integer ? 'whole ' : ''}number ${zeroAllowed ? '≥ 0' : '> 0'}`, value);
  return value as number;
}

/** A whole number from 1 to `max`. */
export function wholeNumber(max = Number.POSITIVE_INFINITY): Check<number> {
  return (value, name) => {
    if (typeof value === 'number' && value > max) fail(name, `a whole number from 1 to ${max}`, value);
    return positiveNumber(name, value, { integer: true });
  };
}

/** Milliseconds from 0 to `max`; `0` and `false` mean none. */
export function millisecondsOrFalse(max: number): Check<number | false> {
  return (value, name) => {
    if (value === false || value === 0) return false;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
      fail(name, `a number of milliseconds from 0 to ${max}, or false`, value);
    }
    return value;
  };
}

/** `true`, or milliseconds as `millisecondsOrFalse` takes them. */
export function trueOrMillisecondsOrFalse(max: number): Check<true | number | false> {
  const milliseconds = millisecondsOrFalse(max);
  return (value, name) => {
    if (value === true) return true;
    if (typeof value !== 'number' && value !== false) {
      fail(name, `true, a number of milliseconds from 0 to ${max}, or false`, value);
    }
    return milliseconds(value, name);
  };
}

/** A driver's object, recognised by its shape; a string there is a connection string given in the wrong place. */
export function driverObject<T>(isIt: (value: unknown) => boolean, expected: string): Check<T> {
  return (value, name) =>
    isIt(value)
      ? (value as T)
      : failSecret(
          name,
          expected,
          value,
          typeof value === 'string' ? ' (a connection string? give it as "conString")' : '',
        );
}

/** A plain object that may hold a password (a pg.Pool config). */
export function secretObject(expected: string): Check<Readonly<Record<string, unknown>>> {
  return driverObject((value) => typeof value === 'object' && value !== null && !Array.isArray(value), expected);
}
