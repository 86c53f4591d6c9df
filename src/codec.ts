import { CorruptSessionError, rangeError, typeError } from './errors.js';
import type { SessionObject } from './types.js';

/** Session object ⇄ the JSON text stored in the `sess` column. */

export function encodeSession(session: unknown, maxBytes: number | undefined): string {
  if (typeof session !== 'object' || session === null || Array.isArray(session)) {
    throw typeError(
      'ERR_INVALID_SESSION',
      `connect-pg-simple: a session must be an object, got ${session === null ? 'null' : Array.isArray(session) ? 'an array' : typeof session}`,
    );
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(session);
  } catch (error) {
    throw typeError(
      'ERR_INVALID_SESSION',
      `connect-pg-simple: the session cannot be stored as JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  // An object's own toJSON() may turn it into anything: only an object's text is a session.
  if (text?.[0] !== '{') {
    throw typeError(
      'ERR_INVALID_SESSION',
      `connect-pg-simple: the session's toJSON() must return an object, got ${jsonKind(text)}: nothing was stored`,
    );
  }
  if (maxBytes !== undefined) {
    const bytes = Buffer.byteLength(text);
    if (bytes > maxBytes) {
      throw rangeError(
        'ERR_SESSION_TOO_LARGE',
        `connect-pg-simple: the session is ${bytes} bytes as JSON, more than maxSessionSize (${maxBytes})`,
      );
    }
  }
  return text;
}

/** What a JSON text holds, by its first character: for an error message that shows none of it. */
const JSON_KINDS: Readonly<Record<string, string>> = {
  '"': 'a string',
  '[': 'an array',
  n: 'null',
  t: 'a boolean',
  f: 'a boolean',
};

function jsonKind(text: string | undefined): string {
  return text === undefined ? 'undefined' : (JSON_KINDS[text[0] ?? ''] ?? 'a number');
}

/** The stored text as a session object; a row that is not a JSON object is corrupt. */
export function decodeSession(text: unknown): SessionObject {
  if (typeof text !== 'string') throw new CorruptSessionError(`stored session is ${typeof text}, not JSON text`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text it failed on: session data, which is not for the log.
    const position = /at position \d+/.exec(String((error as Error).message))?.[0];
    throw new CorruptSessionError(`stored session is not valid JSON${position === undefined ? '' : ` (${position})`}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CorruptSessionError(
      `stored session is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not an object`,
    );
  }
  return value as SessionObject;
}
