import type { SessionObject } from './options.js';

/** Session object ⇄ the JSON text stored in the `sess` column. */

export function encodeSession(session: unknown, maxBytes: number | undefined): string {
  if (typeof session !== 'object' || session === null || Array.isArray(session)) {
    throw new TypeError(
      `connect-pg-simple: a session must be an object, got ${session === null ? 'null' : Array.isArray(session) ? 'an array' : typeof session}`,
    );
  }
  let text: string;
  try {
    text = JSON.stringify(session);
  } catch (error) {
    throw new TypeError(`connect-pg-simple: the session cannot be stored as JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (maxBytes !== undefined) {
    const bytes = Buffer.byteLength(text);
    if (bytes > maxBytes) {
      throw new RangeError(
        `connect-pg-simple: the session is ${bytes} bytes as JSON, more than maxSessionSize (${maxBytes})`,
      );
    }
  }
  return text;
}

export class CorruptSessionError extends Error {
  override readonly name = 'CorruptSessionError';
}

/** The stored text as a session object; a row that is not a JSON object is corrupt. */
export function decodeSession(text: unknown): SessionObject {
  if (typeof text !== 'string') throw new CorruptSessionError(`stored session is ${typeof text}, not JSON text`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CorruptSessionError(`stored session is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CorruptSessionError(
      `stored session is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not an object`,
    );
  }
  return value as SessionObject;
}
