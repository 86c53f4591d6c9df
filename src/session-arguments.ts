import { typeError } from './errors.js';
import type { SessionObject } from './types.js';

/** Longest session id accepted, in UTF-8 bytes: far above any generator's, far below the index limit. */
const MAX_SID_BYTES = 1024;

/** A session id as the core's methods take it: a non-empty, well-formed string of at most MAX_SID_BYTES. */
export function checkSid(sid: unknown): asserts sid is string {
  if (typeof sid !== 'string' || sid.length === 0) {
    throw typeError(
      'ERR_INVALID_ARG',
      `connect-pg-simple: a session id must be a non-empty string, got ${sid === '' ? 'an empty string' : typeof sid}`,
    );
  }
  if (sid.includes('\0'))
    throw typeError('ERR_INVALID_ARG', 'connect-pg-simple: a session id must not contain NUL characters');
  if (!(sid as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw typeError(
      'ERR_INVALID_ARG',
      'connect-pg-simple: a session id must be well-formed Unicode (it has a lone surrogate)',
    );
  }
  if (sid.length > MAX_SID_BYTES / 3 && Buffer.byteLength(sid) > MAX_SID_BYTES) {
    throw typeError('ERR_INVALID_ARG', `connect-pg-simple: a session id must be at most ${MAX_SID_BYTES} bytes long`);
  }
}

export function checkSessionObject(session: unknown): asserts session is SessionObject {
  if (typeof session !== 'object' || session === null || Array.isArray(session)) {
    throw typeError('ERR_INVALID_SESSION', 'connect-pg-simple: a session must be an object');
  }
}
