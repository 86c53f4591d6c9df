import { randomBytes } from 'node:crypto';
import type { Database, Row } from './drivers/database.js';
import { type NoticeEvents, type NoticeListener, openNoticeListener } from './drivers/notice-listener.js';
import type { DriverChoice } from './drivers/open.js';
import type { ReadCache } from './read-cache.js';
import { FORGET_ALL, markerStatement, noticeChannelStatement, noticeKeyOf } from './schema/change-notices.js';

/**
 * When `readCache: true` may answer from memory. The guarantee, for a `get` answered from the
 * cache at time T: every change of that session (a destroy, a revoke, a change of its data, by
 * any store, the CLI or plain SQL) committed before T − `boundMs` is reflected, and the session
 * is alive by the database's own reading (a cached entry keeps its expiry and never outlives it).
 *
 * How: the table's triggers NOTIFY the keys of rows that changed (change-notices.ts); this
 * store's listener forgets them from the cache. A notice can be lost only while the listener is
 * not listening, so each (re)connection starts an epoch: the cache is emptied, and only reads sent
 * after LISTEN took effect fill it. Notices arrive in commit order; the listener sends itself a
 * marker notice now and then (only while the cache is used), and a marker sent at S that
 * arrives proves every notice committed before S has arrived. A hit is served only while the
 * last marker that arrived was sent at most `boundMs` ago: a connection that dies silently, a
 * trigger dropped or disabled (the marker is sent only while all of them fire), all stop hits
 * within the bound.
 */

/** How long after a change committed every store's `readCache: true` has seen it, at most. */
export const READ_CACHE_BOUND_MS = 50;

/** A marker is sent this often while the cache is used, so one sent within the bound has usually arrived. */
const MARKERS_PER_BOUND = 2;
/** With no cache lookup for this long, markers stop (and the next lookup starts them again). */
const IDLE_AFTER_MS = 2_000;
/** A marker that has not come back after this long no longer holds the next one back. */
const MARKER_PATIENCE_MS = 1_000;
/** How soon to look for the triggers again, on a table found without them. */
const RECHECK_MS = 30_000;

/** `readCache: true`'s trust, listening with the driver the options named. */
export function readCacheTrust(driver: DriverChoice, settings: Omit<CacheTrustSettings, 'open'>): CacheTrust {
  return new CacheTrust({
    ...settings,
    open: (channel, events) =>
      openNoticeListener(driver, { channel, table: settings.table, markerText: markerStatement.text, events }),
  });
}

export interface CacheTrustSettings {
  readonly cache: ReadCache;
  /** The store's database, to find the table's channel. */
  readonly db: Database;
  /** The session table, qualified. */
  readonly table: string;
  /** The SQL that turns the table's change notices on, for a message. */
  readonly enableStatement: string;
  readonly open: (channel: string, events: NoticeEvents) => NoticeListener | string;
  readonly boundMs: number;
  readonly now: () => number;
  readonly log: (message: string) => void;
}

export class CacheTrust {
  readonly #settings: CacheTrustSettings;
  /** Marks this store's markers among those of every store on the channel. */
  readonly #token = randomBytes(6).toString('hex');
  #listener: NoticeListener | undefined;
  #starting = false;
  #stopped = false;
  /** Why the cache cannot be trusted now (logged once per reason); undefined while it may be. */
  #refusal: string | undefined;
  #retryAt = Number.NEGATIVE_INFINITY;
  /** When LISTEN took effect on the listener's connection: undefined while it is not listening. */
  #listeningSince: number | undefined;
  #epoch = 0;
  /** When the last marker that arrived was sent. */
  #confirmedSentAt = Number.NEGATIVE_INFINITY;
  #markers = new Map<number, number>();
  #nextMarker = 0;
  #lastMarkerSentAt = Number.NEGATIVE_INFINITY;
  #lastUsedAt = Number.NEGATIVE_INFINITY;
  #markerTimer: NodeJS.Timeout | undefined;

  constructor(settings: CacheTrustSettings) {
    this.#settings = settings;
  }

  /**
   * The notice key to remember a read of the row stored as `storedId` by, when a read sent at
   * `sentAt` may be remembered; null when it may not (sent before the listener's epoch began, or
   * a row found by candidates while the table is re-keyed: its stored id is not known).
   */
  keyToRemember(storedId: unknown, sentAt: number): string | null {
    return typeof storedId === 'string' && this.mayRemember(sentAt) ? noticeKeyOf(storedId) : null;
  }

  /** May a read sent at `sentAt` be remembered? Only one sent after the listener's LISTEN took effect. */
  mayRemember(sentAt: number): boolean {
    if (this.#listeningSince === undefined) {
      this.start();
      return false;
    }
    return sentAt >= this.#listeningSince;
  }

  /** May an entry filled by a read sent at `readAt` answer now? */
  allows(readAt: number): boolean {
    const now = this.#settings.now();
    this.#lastUsedAt = now;
    this.#keepConfirming(now);
    return (
      this.#listeningSince !== undefined &&
      readAt >= this.#listeningSince &&
      now - this.#confirmedSentAt <= this.#settings.boundMs
    );
  }

  /** Starts listening, if it has not (the first `get` calls it; again after a refusal that may pass). */
  start(): void {
    if (this.#listener !== undefined || this.#starting || this.#stopped) return;
    if (this.#settings.now() < this.#retryAt) return;
    this.#starting = true;
    this.#open().finally(() => {
      this.#starting = false;
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#markerTimer);
    this.#lose();
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.close();
  }

  async #open(): Promise<void> {
    const { db, table, open } = this.#settings;
    let found: Row | undefined;
    try {
      [found] = await db.query(noticeChannelStatement, [table]);
    } catch (error) {
      this.#refuse(`cannot look for its change notices: ${(error as Error).message}`, true);
      return;
    }
    const channel = found?.channel;
    if (this.#stopped) return;
    if (typeof channel !== 'string' || channel === '') {
      this.#refuse(
        'the table has no change notices (schema 4 adds them: run `npx connect-pg-simple migrate`, then turn them on)',
        true,
      );
      return;
    }
    if (found?.on !== true) {
      this.#refuse(
        `the table's change notices are off (they cost every write a little, and make notifying commits wait in line: see docs/performance.md): turn them on with ${this.#settings.enableStatement}`,
        true,
      );
      return;
    }
    const listener = open(channel, {
      onListening: () => this.#listening(),
      onLost: (why) => this.#lost(why),
      onUnusable: (why) => this.#refuse(why, false),
      onNotice: (payload) => this.#notice(payload),
    });
    if (typeof listener === 'string') {
      this.#refuse(listener, false);
      return;
    }
    this.#listener = listener;
    if (this.#stopped) await listener.close();
  }

  #listening(): void {
    this.#settings.cache.clear();
    this.#epoch++;
    this.#markers.clear();
    this.#confirmedSentAt = Number.NEGATIVE_INFINITY;
    this.#lastMarkerSentAt = Number.NEGATIVE_INFINITY;
    this.#listeningSince = this.#settings.now();
    if (this.#refusal !== undefined) this.#settings.log('connect-pg-simple: readCache is listening again');
    this.#refusal = undefined;
    this.#keepConfirming(this.#listeningSince);
  }

  #lost(why: string): void {
    this.#lose();
    this.#note(why);
  }

  /** Nothing remembered is trusted any more, nor is anything read before the next epoch begins. */
  #lose(): void {
    this.#listeningSince = undefined;
    this.#settings.cache.clear();
  }

  /** The cache cannot be trusted; with `retry`, the table is looked at again later (it may be migrated). */
  #refuse(why: string, retry: boolean): void {
    this.#lose();
    this.#note(why);
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.close().catch(() => {});
    if (retry) this.#retryAt = this.#settings.now() + RECHECK_MS;
    else this.#stopped = true;
  }

  #note(why: string): void {
    if (this.#refusal === why || this.#stopped) return;
    this.#refusal = why;
    this.#settings.log(`connect-pg-simple: readCache: true reads the table meanwhile: ${why}`);
  }

  #notice(payload: string): void {
    if (payload.startsWith('!')) {
      this.#marker(payload);
      return;
    }
    const { cache } = this.#settings;
    if (payload === FORGET_ALL) {
      cache.clear();
      return;
    }
    for (const key of payload.split(' ')) cache.forgetKey(key);
  }

  /** `!<token>:<epoch>:<n>`: this store's marker n of this epoch arrived. */
  #marker(payload: string): void {
    const [token, epoch, n] = payload.slice(1).split(':');
    if (token !== this.#token || Number(epoch) !== this.#epoch) return;
    const sentAt = this.#markers.get(Number(n));
    if (sentAt === undefined) return;
    for (const [older] of this.#markers) {
      this.#markers.delete(older);
      if (older === Number(n)) break;
    }
    if (sentAt > this.#confirmedSentAt) this.#confirmedSentAt = sentAt;
    this.#keepConfirming(this.#settings.now());
  }

  /** While the cache is used and the listener listens: the next marker, when one is due. */
  #keepConfirming(now: number): void {
    const listener = this.#listener;
    if (listener === undefined || this.#listeningSince === undefined || this.#stopped) {
      this.start();
      return;
    }
    if (now - this.#lastUsedAt > IDLE_AFTER_MS) return;
    if (this.#markers.size > 0 && now - this.#lastMarkerSentAt < MARKER_PATIENCE_MS) return;
    const dueAt = this.#lastMarkerSentAt + this.#settings.boundMs / MARKERS_PER_BOUND;
    if (now < dueAt) {
      this.#markerTimer ??= setTimeout(() => {
        this.#markerTimer = undefined;
        this.#keepConfirming(this.#settings.now());
      }, dueAt - now).unref();
      return;
    }
    clearTimeout(this.#markerTimer);
    this.#markerTimer = undefined;
    const n = this.#nextMarker++;
    this.#markers.set(n, now);
    this.#lastMarkerSentAt = now;
    listener.sendMarker(`!${this.#token}:${this.#epoch}:${n}`).then(
      (sent) => {
        if (!sent) this.#refuse('the table has lost its change notices (a trigger was dropped or turned off)', true);
      },
      () => {
        // Not listening, or the connection failed: the listener says so, and the next epoch begins.
      },
    );
  }
}
