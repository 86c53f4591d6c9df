/**
 * Errors made safe to log. A server error may quote the row it failed on ("Key (sid)=(…)",
 * "Failing row contains (…)", a JSON parser's "line 1: …"), and some drivers attach the
 * statement's parameters: session ids and session data, which do not belong in a log. What a
 * caller gets back is its own and is never changed; only what goes to `errorLog` is redacted.
 */

/** Fields of pg's DatabaseError (and PGlite's, and postgres.js's) that may quote values. */
const VALUE_FIELDS = ['detail', 'where', 'internalQuery', 'internal_query'] as const;
/** Fields some drivers attach with the statement's parameters (postgres.js, PGlite). */
const PARAMETER_FIELDS = ['parameters', 'params', 'args'] as const;

export const REDACTED_NOTE = '[removed: may contain session data]';

/** How deep a chain of `cause`s is followed. */
const MAX_CAUSE_DEPTH = 4;

function carriesValues(error: object, depth: number): boolean {
  if (VALUE_FIELDS.some((field) => typeof (error as Record<string, unknown>)[field] === 'string')) return true;
  if (PARAMETER_FIELDS.some((field) => Object.hasOwn(error, field))) return true;
  const cause = (error as { cause?: unknown }).cause;
  return depth < MAX_CAUSE_DEPTH && cause instanceof Error && carriesValues(cause, depth + 1);
}

/**
 * The error as it may be logged: the same class, message, stack, code and SQLSTATE fields, with
 * the fields that may quote row data replaced by a note and the statement's parameters left out.
 * Anything else, and an error with nothing to remove, is returned as it is.
 */
export function redactForLog(value: unknown): unknown {
  return redacted(value, 0);
}

function redacted(value: unknown, depth: number): unknown {
  if (!(value instanceof Error) || !carriesValues(value, depth)) return value;
  const copy = Object.create(Object.getPrototypeOf(value)) as Record<string, unknown>;
  for (const key of Reflect.ownKeys(value)) {
    if ((PARAMETER_FIELDS as readonly PropertyKey[]).includes(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
    let replacement: unknown = descriptor.value;
    if ((VALUE_FIELDS as readonly PropertyKey[]).includes(key) && typeof replacement === 'string') {
      replacement = REDACTED_NOTE;
    } else if (key === 'cause' && depth < MAX_CAUSE_DEPTH) {
      replacement = redacted(replacement, depth + 1);
    }
    Object.defineProperty(copy, key, 'value' in descriptor ? { ...descriptor, value: replacement } : descriptor);
  }
  return copy;
}
