import { randomBytes } from 'node:crypto';

/** A new session id for adapters whose framework leaves it to the store: 192 random bits, URL-safe. */
export function newSessionId(): string {
  return randomBytes(24).toString('base64url');
}
