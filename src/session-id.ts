import * as crypto from 'node:crypto';

/**
 * How a table stores session ids, recorded on its `sid` column (a column comment) at schema 2:
 * - `sha256`: the hex SHA-256 of the id's UTF-8 bytes (the default): whoever reads the table,
 *   a backup or a statement log cannot present a stored id as a cookie;
 * - `hmac-sha256`: the hex HMAC-SHA-256, keyed with `sessionIdPepper`, of that SHA-256 hex: a
 *   stolen table is no help even to brute-force short ids without the pepper (and a table of
 *   `sha256` ids can be re-keyed without knowing the ids);
 * - `plain`: the id itself, as 10.x and schema 1 stored it (`hashSessionIds: false`).
 */
export type SessionIdForm = 'plain' | 'sha256' | 'hmac-sha256';

export const SESSION_ID_FORMS: readonly SessionIdForm[] = ['plain', 'sha256', 'hmac-sha256'];

export function isSessionIdForm(value: unknown): value is SessionIdForm {
  return SESSION_ID_FORMS.includes(value as SessionIdForm);
}

/** The start of a schema-2 table's `sid` column comment; the id form follows. */
export const ID_FORM_MARK = 'connect-pg-simple session ids: ';

/** The `sid` column's comment at schema 2: how the table stores ids. */
export function idFormComment(form: SessionIdForm): string {
  return `${ID_FORM_MARK}${form}`;
}

/** `crypto.hash` (Node.js ≥ 20.12): one call, about four times faster than a Hash object for an id. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** The hex SHA-256 of a text's UTF-8 bytes: on every operation's path, so the quickest way there is. */
const sha256Hex: (text: string) => string =
  oneShotHash === undefined
    ? (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex')
    : (text) => oneShotHash('sha256', text, 'hex');

/** Turns a session id into what the table holds for it: the one place ids are hashed. */
export type StoredIdOf = (sid: string) => string;

export function storedIdFunction(form: SessionIdForm, pepper?: Buffer): StoredIdOf {
  switch (form) {
    case 'plain':
      return (sid) => sid;
    case 'sha256':
      return sha256Hex;
    case 'hmac-sha256': {
      if (pepper === undefined) throw new TypeError('connect-pg-simple: hmac-sha256 ids need a pepper');
      return (sid) => crypto.createHmac('sha256', pepper).update(sha256Hex(sid), 'utf8').digest('hex');
    }
  }
}

/** The id form a store writes to a table at schema 2, from its options. */
export function idFormFor(hashSessionIds: boolean, pepper: Buffer | undefined): SessionIdForm {
  if (!hashSessionIds) return 'plain';
  return pepper === undefined ? 'sha256' : 'hmac-sha256';
}
