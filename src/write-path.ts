import { encodeSession, type SessionCodec } from './codec.js';
import { sqlStateOf } from './diagnostics.js';
import { ElapsingSeconds } from './drivers/database.js';
import { typeError } from './errors.js';
import {
  type FrameworkLifetime,
  SHORTENING_SLACK_SECONDS,
  sessionLifetimeSeconds,
  touchWindowSeconds,
} from './expiry.js';
import type { LoadReceipt } from './load-receipt.js';
import { writeMerged } from './merged-write.js';
import { DEFAULTS } from './option-table.js';
import type { ResolvedOptions } from './option-types.js';
import type { ReadPath } from './read-path.js';
import { diffSessions, type KeysChange, type SessionChange } from './session-diff.js';
import type { StoreStatements } from './sql.js';
import type { IdParameter } from './table-ids.js';
import type { TableSnapshot } from './table-watch.js';
import type { Deadline } from './time-limit.js';
import type { SessionObject } from './types.js';
import { detailsText } from './user-id.js';

const EXPIRY_ONLY: SessionChange = { kind: 'expiry' };
/** The SQLSTATEs of a json text PostgreSQL's json functions refuse to take apart (22P02, 22P05). */
const UNREADABLE_JSON: ReadonlySet<string> = new Set(['22P02', '22P05']);

export interface WritePathSettings {
  readonly options: Pick<
    ResolvedOptions,
    'maxSessionSize' | 'ttl' | 'disableTouch' | 'touchAfterSeconds' | 'userIdOf' | 'describe'
  >;
  /** Every statement goes through it, so that the readers learn of the writes. */
  readonly reads: ReadPath;
  readonly codec: SessionCodec;
  readonly now: () => number;
  /** The session's `cookie` key is the application's data, not the framework's cookie (see CoreSettings). */
  readonly cookieIsData: boolean;
}

/** What a refresh writes: a touch of the row's expiry, a login's or logout's user, or both. */
export interface RefreshPlan {
  readonly lifetimeSeconds: number;
  /** A row with at least this many seconds left needs no touch. */
  readonly enoughSeconds: number;
  readonly touch: boolean;
  readonly userChange: UserChange | undefined;
}

type UserChange = { userId: string | null; details: string | null };

/**
 * How a session is written, once its operation has begun and the table is known: a new session
 * inserted, a loaded one updated only while its row is alive (only the keys its request changed),
 * lazy touches, a login's or logout's user, and a loaded session bound again to its row's id.
 * The core runs it under the operation's time limit.
 */
export class WritePath {
  readonly #options: WritePathSettings['options'];
  readonly #reads: ReadPath;
  readonly #codec: SessionCodec;
  readonly #now: () => number;
  readonly #cookieIsData: boolean;

  constructor({ options, reads, codec, now, cookieIsData }: WritePathSettings) {
    this.#options = options;
    this.#reads = reads;
    this.#codec = codec;
    this.#now = now;
    this.#cookieIsData = cookieIsData;
  }

  /** See `SessionCore.save`: `receipt` is the load's of this very id, or undefined for a new session. */
  async save(
    table: TableSnapshot,
    sid: string,
    session: SessionObject,
    receipt: LoadReceipt | undefined,
    write: FrameworkLifetime | undefined,
    deadline: Deadline | undefined,
  ): Promise<LoadReceipt> {
    const text = encodeSession(session, this.#options.maxSessionSize);
    const lifetimeSeconds = this.#lifetimeSeconds(session, write);
    const startedFrom = this.#reads.cache?.peek(sid);
    const { statements } = table;
    const id = table.ids.parameter(sid);
    const sentAt = this.#now();
    // Counted from now, not from when a connection is free (see ElapsingSeconds).
    const ttlSeconds = new ElapsingSeconds(lifetimeSeconds, sentAt, this.#now);
    if (receipt === undefined) {
      const stored = this.storable(table, text, sid);
      const values: unknown[] = [id, stored, ttlSeconds];
      const userId = statements.setUser === undefined ? undefined : this.#options.userIdOf(session);
      if (userId !== undefined) values.push(userId, this.#storableDetails(table, session, sid));
      await this.#reads.write(statements.upsert, values, deadline);
      const written: LoadReceipt = { sid, text, remainingSeconds: lifetimeSeconds, at: sentAt };
      if (stored !== text) written.stored = stored;
      if (userId !== undefined) written.userId = userId;
      this.#reads.cache?.rememberWrite(sid, stored, lifetimeSeconds, sentAt, startedFrom, userId);
      return written;
    }
    const change = receipt.text === text ? EXPIRY_ONLY : diffSessions(receipt.text, text, this.#cookieIsData);
    if (change.kind === 'expiry') {
      // Only the cookie's expiry changed: that is a touch.
      const userChange = this.#userChange(table, session, sid, receipt);
      if (userChange !== undefined) await this.#writeUserChange(statements, id, userChange, receipt, deadline);
      const enough = this.#enoughSeconds(lifetimeSeconds);
      if (!this.#needsTouch(receipt, enough, lifetimeSeconds)) return receipt;
      await this.#touch(table, sid, id, enough, lifetimeSeconds, receipt, deadline);
      return receipt;
    }
    // Before the write: a userId or describe that throws fails the write, not half of it.
    const userChange = this.#userChange(table, session, sid, receipt);
    /** The transaction that left the row holding exactly `text`, when this write is sure it did. */
    let swappedBy: string | undefined;
    if (this.#codec.encrypts) {
      await this.#writeEncrypted(table, id, sid, receipt, change, text, ttlSeconds, deadline);
    } else if (change.kind === 'keys') {
      // Usually no other request changed the row since this one loaded it: then this request's
      // text is the merge, and the plain replace is cheaper than merging in the database.
      const unchanged = [id, text, ttlSeconds, receipt.text];
      const [swapped] = await this.#reads.write(statements.updateIfUnchanged, unchanged, deadline);
      if (swapped === undefined) {
        receipt.text = await this.#writeKeys(table, id, receipt.text, change, text, ttlSeconds, deadline);
      } else {
        receipt.text = text;
        swappedBy = typeof swapped.xid === 'string' ? swapped.xid : undefined;
      }
    } else {
      await this.#reads.write(statements.update, [id, text, ttlSeconds], deadline);
      receipt.text = text;
    }
    receipt.remainingSeconds = lifetimeSeconds;
    receipt.at = sentAt;
    if (userChange !== undefined) await this.#writeUserChange(statements, id, userChange, receipt, deadline);
    if (swappedBy !== undefined && userChange === undefined) {
      // The row holds this request's text and nobody else's keys: this process's next get need not read it.
      this.#reads.swapped(table, sid, text, lifetimeSeconds, sentAt, startedFrom, swappedBy);
    } else {
      // The row may now hold other requests' keys too: this process's next get reads it.
      this.#reads.cache?.forget(sid);
    }
    return receipt;
  }

  /**
   * What a refresh must write, or undefined when nothing: a lazy touch skips the write while the
   * row has enough time left by the receipt, and a login's or logout's user is recorded once.
   */
  planRefresh(
    table: TableSnapshot,
    sid: string,
    session: SessionObject,
    receipt: LoadReceipt | undefined,
    write: FrameworkLifetime | undefined,
  ): RefreshPlan | undefined {
    const lifetimeSeconds = this.#lifetimeSeconds(session, write);
    const enoughSeconds = this.#enoughSeconds(lifetimeSeconds);
    const userChange = receipt === undefined ? undefined : this.#userChange(table, session, sid, receipt);
    const touch = receipt === undefined || this.#needsTouch(receipt, enoughSeconds, lifetimeSeconds);
    if (!touch && userChange === undefined) return undefined;
    return { lifetimeSeconds, enoughSeconds, touch, userChange };
  }

  /** See `SessionCore.refresh`: writes what `planRefresh` found needed. */
  async refresh(
    table: TableSnapshot,
    sid: string,
    { lifetimeSeconds, enoughSeconds: enough, touch, userChange }: RefreshPlan,
    receipt: LoadReceipt | undefined,
    deadline: Deadline | undefined,
  ): Promise<void> {
    const id = table.ids.parameter(sid);
    if (userChange !== undefined && receipt !== undefined) {
      await this.#writeUserChange(table.statements, id, userChange, receipt, deadline);
    }
    if (touch) await this.#touch(table, sid, id, enough, lifetimeSeconds, receipt, deadline);
  }

  /**
   * Whether the row, by what the request's receipt says, needs a touch: it has less than `enough`
   * left (the lazy touch), or more than the session's lifetime (the application shortened it: a
   * shorter cookie, a lower ttl), which a touch brings down to the lifetime.
   */
  #needsTouch(receipt: LoadReceipt, enoughSeconds: number, lifetimeSeconds: number): boolean {
    const left = this.#secondsLeft(receipt);
    return left < enoughSeconds || this.#shortens(receipt, lifetimeSeconds);
  }

  /** Whether the row has more than the session's lifetime left (see SHORTENING_SLACK_SECONDS). */
  #shortens(receipt: LoadReceipt, lifetimeSeconds: number): boolean {
    return this.#secondsLeft(receipt) > lifetimeSeconds + SHORTENING_SLACK_SECONDS;
  }

  /**
   * The touch statement: the row's expiry set to the session's lifetime from now, where it has less
   * than `enough` left or more than the lifetime, and never on a row that is gone or expired.
   */
  async #touch(
    table: TableSnapshot,
    sid: string,
    id: IdParameter,
    enough: number,
    lifetimeSeconds: number,
    receipt: LoadReceipt | undefined,
    deadline: Deadline | undefined,
  ): Promise<void> {
    const startedFrom = this.#reads.cache?.peek(sid);
    const sentAt = this.#now();
    // A shortened row must not be served with the end the cache knew: read again, as after a destroy.
    const shortens = receipt !== undefined && this.#shortens(receipt, lifetimeSeconds);
    if (shortens) this.#reads.cache?.forget(sid);
    const values = [
      id,
      new ElapsingSeconds(enough, sentAt, this.#now),
      new ElapsingSeconds(lifetimeSeconds, sentAt, this.#now),
    ];
    await this.#reads.write(table.statements.touch, values, deadline);
    if (shortens) this.#reads.cache?.forget(sid);
    else this.#reads.touched(table, sid, enough, sentAt, startedFrom);
    // Written or not, the row now has at least `enough` left, if it still exists.
    if (receipt !== undefined) {
      receipt.remainingSeconds = enough;
      receipt.at = sentAt;
    }
  }

  /** Deletes the session's row, which this process's cache forgets. */
  async destroy(table: TableSnapshot, sid: string, deadline: Deadline | undefined): Promise<void> {
    const cache = this.#reads.cache;
    cache?.forget(sid);
    await this.#reads.write(table.statements.destroy, [table.ids.parameter(sid)], deadline);
    // Again: a read sent before the delete committed may have cached the row meanwhile.
    cache?.forget(sid);
  }

  /** A session's JSON text as the row stores it: encrypted when encryption is on. */
  storable(table: TableSnapshot, text: string, sid: string): string {
    return this.#codec.storable(text, () => table.ids.writeBinding(sid));
  }

  /**
   * A session bound to another form of its id than the table's (written by a store that had not
   * yet seen the table re-keyed) is bound to its row's id when it is read: `all()` and `reencrypt`
   * then read it too. A compare-and-swap: a row another request changed meanwhile keeps that
   * write. Resolves with the row's stored text.
   */
  async rebind(
    table: TableSnapshot,
    sid: string,
    receipt: LoadReceipt,
    deadline: Deadline | undefined,
  ): Promise<string> {
    const stored = receipt.stored!;
    const rebound = this.storable(table, receipt.text, sid);
    const values = [table.ids.parameter(sid), rebound, receipt.remainingSeconds, stored];
    const swapped = await this.#reads.write(table.statements.updateIfUnchanged, values, deadline);
    if (swapped.length === 0) return stored;
    receipt.stored = rebound;
    return rebound;
  }

  /**
   * Writes a loaded encrypted session's changes: the database cannot merge keys it cannot read,
   * so a key-level change is a compare-and-swap, merged here when the row changed meanwhile
   * (see merged-write.ts); a whole session replaces the row's, as without encryption.
   */
  async #writeEncrypted(
    table: TableSnapshot,
    id: IdParameter,
    sid: string,
    receipt: LoadReceipt,
    change: Exclude<SessionChange, { kind: 'expiry' }>,
    text: string,
    ttlSeconds: ElapsingSeconds,
    deadline: Deadline | undefined,
  ): Promise<void> {
    const { statements } = table;
    if (change.kind === 'whole') {
      const stored = this.storable(table, text, sid);
      await this.#reads.write(statements.update, [id, stored, ttlSeconds], deadline);
      receipt.text = text;
      receipt.stored = stored;
      return;
    }
    const written = await writeMerged(
      {
        swap: async (stored, base) =>
          (await this.#reads.write(statements.updateIfUnchanged, [id, stored, ttlSeconds, base], deadline)).length > 0,
        reread: async () => (await this.#reads.query(statements.get, [id], deadline))[0]?.sess as string | undefined,
        readable: (stored) => {
          const current = this.#codec.readable(stored, () => table.ids.readBindings(sid));
          return typeof current?.text === 'string' ? current.text : undefined;
        },
        storable: (plain) => this.storable(table, plain, sid),
      },
      change,
      text,
      receipt.stored ?? receipt.text,
    );
    if (written !== undefined) {
      receipt.text = written.text;
      receipt.stored = written.stored;
    }
  }

  /**
   * Merges a request's changed keys into a row another request changed meanwhile, in the
   * database. When the row now holds what PostgreSQL's json functions refuse (a lone surrogate's
   * escape or `\u0000`, written whole by that other request), the merge is done here instead, as
   * for an encrypted session (see merged-write.ts). Returns the text the receipt should hold.
   */
  async #writeKeys(
    table: TableSnapshot,
    id: IdParameter,
    base: string,
    change: KeysChange,
    text: string,
    ttl: ElapsingSeconds,
    deadline: Deadline | undefined,
  ): Promise<string> {
    const { statements } = table;
    try {
      await this.#reads.write(statements.updateKeys, [id, change.set, change.replaced, ttl], deadline);
      return text;
    } catch (error) {
      if (!UNREADABLE_JSON.has(sqlStateOf(error) ?? '')) throw error;
    }
    const written = await writeMerged(
      {
        swap: async (stored, current) =>
          (await this.#reads.write(statements.updateIfUnchanged, [id, stored, ttl, current], deadline)).length > 0,
        reread: async () => (await this.#reads.query(statements.get, [id], deadline))[0]?.sess as string | undefined,
        readable: (stored) => stored,
        storable: (plain) => plain,
      },
      change,
      text,
      base,
    );
    return written?.text ?? text;
  }

  /** What `describe` says of the session's device, as the `details` column stores it. */
  #storableDetails(table: TableSnapshot, session: SessionObject, sid: string): string | null {
    const text = detailsText(this.#options.describe, session);
    return text === null ? null : table.handles.storable(text, table.handles.of(sid));
  }

  /** Login or logout: the one write that records the row's user (never on the hot path). */
  async #writeUserChange(
    statements: StoreStatements,
    id: IdParameter,
    { userId, details }: UserChange,
    receipt: LoadReceipt,
    deadline: Deadline | undefined,
  ): Promise<void> {
    // This write's statements may be of the table before a migration the store has seen since: the next request records the user.
    if (statements.setUser === undefined) return;
    await this.#reads.write(statements.setUser, [id, userId, details], deadline);
    receipt.userId = userId;
    // A cached copy names the row's user as it was: the session's next request would record it again.
    this.#reads.cache?.forget(receipt.sid);
  }

  /** The user and details to record when a loaded session's user is not the row's (schema 3 only). */
  #userChange(table: TableSnapshot, session: SessionObject, sid: string, receipt: LoadReceipt): UserChange | undefined {
    if (table.statements.setUser === undefined) return undefined;
    const userId = this.#options.userIdOf(session);
    if (userId === receipt.userId) return undefined;
    return { userId, details: this.#storableDetails(table, session, sid) };
  }

  /**
   * Lazy touch: a row with at least this many seconds left needs no write. A write stores exactly
   * the lifetime, so a session never outlives its idle timeout; skipping touches while the row has
   * `lifetime - window` left lets it end early by at most the window (a tenth of the lifetime at
   * most, `touchAfter` seconds by default), never late.
   */
  #enoughSeconds(lifetimeSeconds: number): number {
    if (this.#options.disableTouch) return lifetimeSeconds;
    return lifetimeSeconds - touchWindowSeconds(lifetimeSeconds, this.#options.touchAfterSeconds);
  }

  /** Seconds the row had left, by what this request's receipt says, aged on this process's clock. */
  #secondsLeft(receipt: LoadReceipt): number {
    return receipt.remainingSeconds - (this.#now() - receipt.at) / 1000;
  }

  #lifetimeSeconds(session: SessionObject, write: FrameworkLifetime | undefined): number {
    const lifetimeSeconds = sessionLifetimeSeconds(session, this.#options.ttl, write, DEFAULTS.ttlSeconds);
    if (!Number.isFinite(lifetimeSeconds)) {
      throw typeError(
        'ERR_INVALID_SESSION',
        `connect-pg-simple: session lifetime must be a finite number of seconds, got ${lifetimeSeconds}`,
      );
    }
    return lifetimeSeconds;
  }
}
