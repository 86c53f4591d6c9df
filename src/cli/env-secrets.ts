import { sessionKeyFrom } from '../encryption.js';
import { MIN_PEPPER_BYTES } from '../options.js';
import type { CommandLine } from './args.js';
import { UsageError } from './errors.js';

/** Secrets a command reads from the environment, never from argv (which other users can read in the process list). */

/** The environment variable that holds the keys. */
export const KEYS_VARIABLE = 'CPS_ENCRYPTION_KEYS';

/** The keys from CPS_ENCRYPTION_KEYS (comma-separated base64, the current one first); never echoed. */
export function keysFrom(env: NodeJS.ProcessEnv, command: string): Buffer[] {
  const raw = env[KEYS_VARIABLE];
  if (raw === undefined || raw.trim() === '') {
    throw new UsageError(
      `set ${KEYS_VARIABLE} to the store's encryptionKeys as comma-separated base64, the current key first (keys are never taken from the command line)`,
      command,
    );
  }
  return raw.split(',').map((text, index) => {
    const key = sessionKeyFrom(text.trim());
    if (typeof key === 'string') {
      throw new UsageError(`${KEYS_VARIABLE}: key ${index + 1} must be 32 bytes in base64, got ${key}`, command);
    }
    return key;
  });
}

/** The environment variable that holds the pepper. */
export const PEPPER_VARIABLE = 'CPS_SESSION_ID_PEPPER';

const ENCODINGS = ['utf8', 'base64', 'hex'] as const;
type PepperEncoding = (typeof ENCODINGS)[number];

const SHAPES: Readonly<Record<PepperEncoding, RegExp>> = {
  utf8: /^[\s\S]*$/,
  base64: /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2})$/,
  hex: /^(?:[0-9a-fA-F]{2})+$/,
};

/**
 * The store's `sessionIdPepper` from CPS_SESSION_ID_PEPPER: the same text a store is given
 * (`--pepper-encoding utf8`, the default), or the base64 or hex of the Buffer a store is given.
 * Never echoed; refused as a store would refuse it.
 */
export function pepperFrom(env: NodeJS.ProcessEnv, line: CommandLine): Buffer {
  const command = line.command;
  const encoding = line.options['pepper-encoding'] ?? 'utf8';
  if (typeof encoding !== 'string' || !(ENCODINGS as readonly string[]).includes(encoding)) {
    throw new UsageError(`--pepper-encoding must be one of ${ENCODINGS.join(', ')}`, command);
  }
  const raw = env[PEPPER_VARIABLE];
  if (raw === undefined || raw === '') {
    throw new UsageError(
      `set ${PEPPER_VARIABLE} to the stores' sessionIdPepper (a pepper is never taken from the command line)`,
      command,
    );
  }
  const text = encoding === 'utf8' ? raw : raw.trim();
  if (!SHAPES[encoding as PepperEncoding].test(text)) {
    throw new UsageError(`${PEPPER_VARIABLE} is not ${encoding} (--pepper-encoding ${encoding})`, command);
  }
  const pepper = Buffer.from(
    text,
    encoding === 'base64' && /[-_]/.test(text) ? 'base64url' : (encoding as BufferEncoding),
  );
  if (pepper.length < MIN_PEPPER_BYTES) {
    throw new UsageError(
      `${PEPPER_VARIABLE} holds ${pepper.length} bytes: a pepper has at least ${MIN_PEPPER_BYTES} (such as 32 random bytes), as sessionIdPepper does`,
      command,
    );
  }
  return pepper;
}
