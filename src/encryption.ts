import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { DecryptionError, typeError } from './errors.js';

/**
 * Encryption at rest of the stored session (`encryptionKeys`): AES-256-GCM, a random 12-byte IV
 * per write, and the row's stored id as additional authenticated data, so a value copied to
 * another row does not decrypt. The `sess` column (json) holds one JSON string:
 *
 *     "cps:v1:<key id>:<base64 of IV (12 bytes) | tag (16 bytes) | ciphertext>"
 *
 * The key id is the hex of the first 4 bytes of the key's SHA-256: it says which key to try,
 * without revealing the key. The first key encrypts; every key decrypts (rotation).
 */

const ENVELOPE_PREFIX = 'cps:v1:';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

interface SessionKey {
  readonly id: string;
  readonly key: Buffer;
}

const keyIdOf = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 8);

/** How the stored text (the `sess` column's, a JSON string) of an encrypted session begins. */
export const ENVELOPE_START = `"${ENVELOPE_PREFIX}`;

/** Is the stored text (the `sess` column's) an encrypted envelope? */
export function isEnvelopeText(text: string): boolean {
  return text.startsWith(ENVELOPE_START);
}

export class SessionCipher {
  readonly #keys: readonly SessionKey[];
  readonly #byId: ReadonlyMap<string, Buffer>;

  /** `keys`: 32-byte keys, the current one first (checked by `encryptionKeys` in options.ts). */
  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0)
      throw typeError('ERR_INVALID_OPTION', 'connect-pg-simple: SessionCipher needs at least one key');
    this.#keys = keys.map((key) => ({ id: keyIdOf(key), key }));
    // A key id shared by two keys (1 in 4 billion) is tried with the first of them only.
    const byId = new Map<string, Buffer>();
    for (const { id, key } of this.#keys) if (!byId.has(id)) byId.set(id, key);
    this.#byId = byId;
  }

  /** The id of the key that encrypts: a stored value under another key is due for re-encryption. */
  get currentKeyId(): string {
    return this.#keys[0]!.id;
  }

  /** The session's JSON text, encrypted for the row `storedId`: the stored text (a JSON string). */
  encrypt(plainText: string, storedId: string): string {
    const { id, key } = this.#keys[0]!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(storedId, 'utf8'));
    const body = Buffer.concat([cipher.update(plainText, 'utf8'), cipher.final()]);
    const sealed = Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    return `"${ENVELOPE_PREFIX}${id}:${sealed}"`;
  }

  /** The key id of a stored text, or undefined when it is not an envelope. */
  keyIdOf(storedText: string): string | undefined {
    if (!isEnvelopeText(storedText)) return undefined;
    const end = storedText.indexOf(':', ENVELOPE_PREFIX.length + 1);
    return end < 0 ? undefined : storedText.slice(ENVELOPE_PREFIX.length + 1, end);
  }

  /**
   * The session's JSON text from a stored envelope of the row `storedId`. Throws a
   * DecryptionError (naming no content) for anything else: not an envelope, an unknown key, a
   * value altered, cut short or moved from another row.
   */
  decrypt(storedText: string, storedId: string): string {
    if (!isEnvelopeText(storedText) || !storedText.endsWith('"')) {
      throw new DecryptionError('stored session is not encrypted (encryptionKeys is set)');
    }
    const inner = storedText.slice(1 + ENVELOPE_PREFIX.length, -1);
    const colon = inner.indexOf(':');
    const keyId = inner.slice(0, colon);
    const key = colon < 0 ? undefined : this.#byId.get(keyId);
    if (key === undefined) {
      throw new DecryptionError(
        `stored session is encrypted with a key not in encryptionKeys (key id ${JSON.stringify(keyId.slice(0, 16))})`,
      );
    }
    const base64 = inner.slice(colon + 1);
    const sealed = Buffer.from(base64, 'base64');
    if (sealed.length < IV_BYTES + TAG_BYTES) throw new DecryptionError('stored session is cut short');
    // Node's decoder skips what is not base64: only the exact text `encrypt` writes is accepted.
    if (sealed.toString('base64') !== base64) throw new DecryptionError('stored session is not a well-formed envelope');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(storedId, 'utf8'));
      decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new DecryptionError(
        `stored session failed authentication with key ${keyId}: altered, cut short, or moved from another session id`,
      );
    }
  }
}

/** The text and the binding it decrypted with, trying each binding in turn; undefined when none does. */
export function decryptWithAny(
  cipher: SessionCipher,
  stored: string,
  bindings: readonly string[],
): { text: string; binding: string } | undefined {
  for (const binding of bindings) {
    try {
      return { text: cipher.decrypt(stored, binding), binding };
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
    }
  }
  return undefined;
}

/**
 * One key of `encryptionKeys` (a 32-byte Buffer or Uint8Array, or its base64 text) as a Buffer;
 * when it is neither, a description of what it is instead, for the error (never the key itself).
 */
export function sessionKeyFrom(value: unknown): Buffer | string {
  if (value instanceof Uint8Array) {
    return value.length === KEY_BYTES ? Buffer.from(value) : `a ${value.length}-byte Buffer`;
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) && !/^[A-Za-z0-9_-]+={0,2}$/.test(text)) {
      return 'a string that is not base64';
    }
    const key = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
    return key.length === KEY_BYTES ? key : `base64 of ${key.length} bytes`;
  }
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

export const ENCRYPTION_KEY_BYTES = KEY_BYTES;
