import { PGStoreError } from './errors.js';
import { applySessionChange, type KeysChange } from './session-diff.js';

/** How many times a write of changed keys re-reads a row changed meanwhile, before it gives up. */
export const MAX_MERGE_ATTEMPTS = 5;

/** What a compare-and-swap write needs from the store: each step one statement, or none. */
export interface MergeSteps {
  /** Writes `stored` if the row is alive and still holds `base`; true when it did. */
  swap(stored: string, base: string): Promise<boolean>;
  /** The row as it is now: its stored text, or undefined when it is gone (destroyed, expired). */
  reread(): Promise<string | undefined>;
  /** The session's JSON text from a stored text; undefined when it cannot be read (logged). */
  readable(stored: string): string | undefined;
  /** A session's JSON text as the row stores it. */
  storable(text: string): string;
}

/** What a merged write left in the row, for the request's receipt; undefined when the row was gone. */
export interface MergedWrite {
  readonly text: string;
  readonly stored: string;
}

/**
 * Writes a request's key-level change to a session the database cannot merge (encrypted): a
 * compare-and-swap on the text the request loaded (`base`). When another request changed the row
 * meanwhile, the row is read again, this request's own change is applied to it here, as the
 * `updateKeys` statement would in SQL, and the write is tried again, at most MAX_MERGE_ATTEMPTS
 * times: keys the request did not change keep the other request's values. A row that is gone
 * stays gone: `swap` only ever updates a live row.
 */
export async function writeMerged(
  steps: MergeSteps,
  change: KeysChange,
  text: string,
  base: string,
): Promise<MergedWrite | undefined> {
  let plain = text;
  let stored = steps.storable(plain);
  for (let attempt = 1; ; attempt++) {
    if (await steps.swap(stored, base)) return { text: plain, stored };
    const now = await steps.reread();
    if (now === undefined) return undefined;
    const current = steps.readable(now);
    if (current === undefined) {
      throw new PGStoreError(
        'ERR_WRITE_CONFLICT',
        'connect-pg-simple: the session changed meanwhile, and its row could not be decrypted: the changes were not written',
      );
    }
    if (attempt >= MAX_MERGE_ATTEMPTS) {
      throw new PGStoreError(
        'ERR_WRITE_CONFLICT',
        `connect-pg-simple: the session changed under this write ${MAX_MERGE_ATTEMPTS} times in a row: the changes were not written`,
      );
    }
    plain = applySessionChange(current, change);
    stored = steps.storable(plain);
    base = now;
  }
}
