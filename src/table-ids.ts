import type { IdUse } from './schema/ensure.js';
import {
  type IdCandidates,
  idCandidatesFunction,
  keyedSha256Function,
  type SessionIdForm,
  type StoredIdOf,
  storedIdFunction,
} from './session-id.js';

/** What a statement takes as `$1` for a session: one stored id, or (see statements/transitional.ts) its candidates. */
export type IdParameter = string | IdCandidates;

/**
 * How a store addresses the table's rows, and binds encrypted sessions to them, for the table as
 * its last check found it (core.ts makes one per check).
 */
export interface TableIds {
  /** Whether `$1` is a session's `IdCandidates` (the transitional mode's `id candidates` sets). */
  readonly idCandidates: boolean;
  /** `$1` for a session id. */
  readonly parameter: (sid: string) => IdParameter;
  /** `$1` for an id as the table stores it, as `all()` lists it. */
  readonly storedParameter: (storedId: string) => IdParameter;
  /** The id a session encrypted now is bound to (its additional authenticated data). */
  readonly writeBinding: StoredIdOf;
  /** The ids a stored session of this session id may be bound to, the likeliest first. */
  readonly readBindings: (sid: string) => readonly string[];
  /** The ids a listed row's session may be bound to, from the id the row has. */
  readonly listedBindings: (storedId: string) => readonly string[];
  /**
   * The handle of a session (user-sessions.ts) as its row now written would have it: the row's id
   * when ids are hashed, else that id's SHA-256 (a handle is never an id that works as a cookie).
   */
  readonly handleOf: StoredIdOf;
  /** Whether a row's stored id is its handle (see `ModeSettings`). */
  readonly storedIdIsHandle: boolean;
  /** The handles a listed row's `details` may be bound to, from the handle the row has. */
  readonly detailsBindings: (handle: string) => readonly string[];
}

/**
 * The id this process remembers a session's writes by (see replica-reads.ts): its stored id, or,
 * from its candidates, the hmac-sha256 one, the id the session keeps once the table is re-keyed.
 */
export function rememberedIdOf(parameter: IdParameter): string {
  return typeof parameter === 'string' ? parameter : parameter[0];
}

const asGiven: StoredIdOf = (sid) => sid;
const sha256Of = storedIdFunction('sha256');

export interface StoreIdSettings {
  readonly form: SessionIdForm;
  readonly pepper: Buffer | undefined;
}

/**
 * - A table of the store's own form: ids of that form; a store with a pepper also reads a session
 *   bound to its SHA-256 or plain id (written while the table was re-keyed: the same session).
 * - Before schema 2, for a store without a pepper: ids as given (the statements of a store that
 *   hashes ids also find hashed ones, see statements/transitional.ts); sessions bound to the store's
 *   own form, as the migration will key them.
 * - Candidates (a store with a pepper on a table not of its form, see `IdUse`): rows found in any
 *   form; a session is bound to the form the table's other stores read (the old one) until it is
 *   re-keying, then to the new one; it is read in either.
 */
export function tableIdsFor(use: IdUse, tableVersion: number, rekeying: boolean, store: StoreIdSettings): TableIds {
  const own = storedIdFunction(store.form, store.pepper);
  const legacy = tableVersion < 2;
  if (use.kind !== 'candidates') {
    const peppered = store.pepper !== undefined;
    const hashed = store.form !== 'plain';
    return {
      idCandidates: false,
      parameter: legacy ? asGiven : own,
      storedParameter: asGiven,
      writeBinding: own,
      readBindings: peppered ? (sid) => [own(sid), sha256Of(sid), sid] : (sid) => [own(sid)],
      listedBindings: legacy ? (storedId) => [own(storedId)] : (storedId) => [storedId],
      handleOf: hashed ? own : sha256Of,
      storedIdIsHandle: hashed,
      detailsBindings: (handle) => [handle],
    };
  }
  const pepper = store.pepper!;
  const keyed = keyedSha256Function(pepper);
  const oldForm: SessionIdForm = legacy ? 'sha256' : use.from;
  return {
    idCandidates: true,
    parameter: idCandidatesFunction(pepper, use.from),
    storedParameter: (storedId) => [storedId, storedId, null],
    writeBinding: rekeying ? own : storedIdFunction(oldForm),
    readBindings: (sid) => [own(sid), sha256Of(sid), sid],
    listedBindings: (storedId) => [storedId, keyed(storedId), sha256Of(storedId), keyed(sha256Of(storedId))],
    // Before the re-keying, rows take the old form (their handle: the SHA-256 id, or the plain id's
    // SHA-256), then hmac-sha256 ones. A table re-keyed from plain ids serves no handles meanwhile (core.ts).
    handleOf: rekeying ? own : sha256Of,
    storedIdIsHandle: use.from === 'sha256',
    // A row not yet moved may hold details a store bound to the handle its row will have.
    detailsBindings: (handle) => [handle, keyed(handle)],
  };
}
