import * as crypto from 'node:crypto';
import { typeError } from './errors.js';

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
      const keyed = keyedSha256Function(pepper);
      return (sid) => keyed(sha256Hex(sid));
    }
  }
}

/**
 * Turns a stored `sha256` id into the `hmac-sha256` id of the same session: what lets a table be
 * re-keyed without the session ids (see `connect-pg-simple rekey`).
 */
export function keyedSha256Function(pepper: Buffer | undefined): (sha256Id: string) => string {
  if (pepper === undefined) throw typeError('ERR_INVALID_OPTION', 'connect-pg-simple: hmac-sha256 ids need a pepper');
  return (sha256Id) => crypto.createHmac('sha256', pepper).update(sha256Id, 'utf8').digest('hex');
}

/**
 * Names a pepper without revealing it, as a key id names an encryption key: the hex of the first
 * 4 bytes of an HMAC keyed with it. A re-keying table records it, so that a store with another
 * pepper refuses the table instead of writing ids nobody else finds.
 */
export function pepperIdOf(pepper: Buffer): string {
  return crypto.createHmac('sha256', pepper).update('connect-pg-simple pepper id', 'utf8').digest('hex').slice(0, 8);
}

/**
 * The id form a table of `hmac-sha256` ids records with its pepper's id (after ID_FORM_MARK), so
 * that a store with another pepper refuses it. A table from before the fingerprint says only
 * `hmac-sha256`: the first store with a pepper to use it records its own (see ensure.ts).
 */
export function keyedForm(pepperId: string): string {
  return `hmac-sha256 (pepper ${pepperId})`;
}

const KEYED = /^hmac-sha256 \(pepper ([0-9a-f]{8})\)$/;

/** The pepper id a `keyedForm` records; undefined for any other form. */
export function parseKeyedForm(form: string | undefined): string | undefined {
  const match = form === undefined ? null : KEYED.exec(form);
  return match === null ? undefined : match[1];
}

/** The forms a table can be re-keyed from: its ids, or their SHA-256, are what the HMAC needs. */
export type RekeyableForm = 'plain' | 'sha256';

/** A table between two id forms: `connect-pg-simple rekey` is moving its rows to `hmac-sha256`. */
export interface Rekeying {
  readonly from: RekeyableForm;
  /** `pepperIdOf` the pepper the rows are being keyed with. */
  readonly pepperId: string;
}

/** The id form a re-keying table's `sid` column records (after ID_FORM_MARK). */
export function rekeyingForm({ from, pepperId }: Rekeying): string {
  return `re-keying ${from} to hmac-sha256 (pepper ${pepperId})`;
}

const REKEYING = /^re-keying (plain|sha256) to hmac-sha256 \(pepper ([0-9a-f]{8})\)$/;

/** What a `rekeyingForm` says; undefined for any other form. */
export function parseRekeyingForm(form: string | undefined): Rekeying | undefined {
  const match = form === undefined ? null : REKEYING.exec(form);
  return match === null ? undefined : { from: match[1] as RekeyableForm, pepperId: match[2]! };
}

/**
 * What a store with a pepper sends as `$1` while its table is not (yet) of `hmac-sha256` ids: the
 * forms a session's row may have, `[hmac-sha256, sha256, plain]`, the plain id only when the table
 * held plain ids (on a table of hashed ids it would let a stored hash work as a cookie's id).
 */
export type IdCandidates = readonly [string, string, string | null];

export function idCandidatesFunction(pepper: Buffer, from: RekeyableForm): (sid: string) => IdCandidates {
  const keyed = keyedSha256Function(pepper);
  return (sid) => {
    const sha256Id = sha256Hex(sid);
    return [keyed(sha256Id), sha256Id, from === 'plain' ? sid : null];
  };
}

/** The id form a store writes to a table at schema 2, from its options. */
export function idFormFor(hashSessionIds: boolean, pepper: Buffer | undefined): SessionIdForm {
  if (!hashSessionIds) return 'plain';
  return pepper === undefined ? 'sha256' : 'hmac-sha256';
}
