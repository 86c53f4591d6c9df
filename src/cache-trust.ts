import { type DriverChoice, openPollConnection } from './drivers/open.js';
import { type PollConnection, PollingUnusable } from './drivers/polling.js';
import type { ReadCache } from './read-cache.js';
import {
  CHANGE_LOG_SCHEMA_VERSION,
  CHANGE_LOG_SERVER_VERSION,
  CLEANED_MARK,
  changeKeyOf,
  changeLogCheckStatement,
  cleanUpStatement,
  FORGET_ALL,
  parseChanges,
  pollStatement,
} from './schema/change-log.js';
import { type Statement, saysTrue, type TableNames, tableNames } from './sql.js';

/**
 * When the trusted read cache may answer from memory. The guarantee, for a `get` answered from
 * the cache at time T: every change of that session (a destroy, a revoke, a change of its data,
 * by any store, the CLI or plain SQL) committed before T − `boundMs` is reflected, and the
 * session is alive by the database's own reading (a cached entry keeps its expiry and never
 * outlives it).
 *
 * How: the table's triggers log the keys of rows that changed, with the writing transaction's id
 * (change-log.ts). This store polls the log on a connection of its own, one statement each time:
 * the keys logged by transactions that the previous poll's snapshot did not see and this one's
 * does, and this snapshot. A poll sent at S and applied has forgotten every change committed
 * before S (its snapshot was taken after S). A hit is served only while the last applied poll
 * was sent at most `boundMs` ago: a connection that hangs, a trigger dropped or disabled (each
 * poll checks them), all stop hits within the bound.
 *
 * An epoch begins with a poll that has no previous snapshot to go on: the first, one after an
 * error, one on another server process (a new connection), one that finds a clean-up mark newer
 * than the previous snapshot (rows it needed may be gone). The cache is emptied then, and only
 * reads sent after the epoch's first poll was applied are remembered. A read sent before a poll
 * that forgets its key was applied is not remembered (read-cache.ts's `forgetKey`).
 *
 * This process's own compare-and-swap of a session (the usual write of a changed session) leaves
 * the row holding exactly what it wrote: the entry keeps that text and the writing transaction's
 * id, and the poll that reports that transaction leaves it be. Any other transaction's change of
 * the row, reported by the same poll or a later one, forgets it as above.
 */

/** How long after a change committed every store's trusted cache has seen it, at most. */
export const READ_CACHE_BOUND_MS = 50;

/** A poll is sent this often while the cache is used, so that one sent within the bound has usually been applied. */
const POLLS_PER_BOUND = 2;
/** With no cache use for this long, polls stop (and the next use starts them again). */
const IDLE_AFTER_MS = 2_000;
/** A poll not answered after this long ends its connection (the next poll opens another: a new epoch). */
const POLL_PATIENCE_MS = 3_000;
/** After a failed poll, the next waits this long, doubling up to the most. */
const FIRST_RETRY_MS = 100;
const MOST_RETRY_MS = 5_000;
/** How soon to look for the change log again, on a table found without it. */
const RECHECK_MS = 30_000;
/** Rows of the log stay this long at least after every snapshot sees them, so that a poller that paused may go on. */
const LOG_RETENTION_MS = 5_000;
/** A store cleans the log up at most this often. */
const CLEAN_UP_EVERY_MS = 1_000;

/** The trusted cache's trust, polling with the driver the options named. */
export function readCacheTrust(driver: DriverChoice, settings: Omit<CacheTrustSettings, 'open'>): CacheTrust {
  return new CacheTrust({ ...settings, open: () => openPollConnection(driver) });
}

export interface CacheTrustSettings {
  readonly cache: ReadCache;
  readonly names: TableNames;
  /** The SQL that turns the table's change-log triggers on, for a message. */
  readonly enableStatement: string;
  readonly open: () => PollConnection | string;
  readonly boundMs: number;
  readonly now: () => number;
  readonly log: (message: string) => void;
  /**
   * The table as the store's table check last found it (undefined before the first): a table
   * below the change log's version has none, so no connection is opened to ask; and its schema
   * (see `#statementsFor`). Without it, as in unit tests, the names are polled as given.
   */
  readonly checkedTable?: () => CheckedTable | undefined;
}

/** What the poller needs of the store's table check. */
export interface CheckedTable {
  readonly version: number;
  /** The schema the table was found in; undefined when it was not found. */
  readonly schema: string | undefined;
}

interface PollStatements {
  readonly check: Statement;
  readonly poll: Statement;
  readonly cleanUp: Statement;
}

/** A poll's snapshot, as the next poll sends it back. */
interface Snapshot {
  readonly xmin: bigint;
  readonly xmax: string;
  readonly xip: string;
  /** The server process and its start. */
  readonly connection: string;
}

const NO_CHANGE_LOG = 'the table has no change log (schema 4 adds it: run `npx connect-pg-simple migrate`)';

export class CacheTrust {
  readonly #settings: CacheTrustSettings;
  /** Made again as each epoch begins (see `#statementsFor`). */
  #statements: PollStatements;
  #connection: PollConnection | undefined;
  #checked = false;
  #stopped = false;
  #polling = false;
  /** Why the cache cannot be trusted now (logged once per reason); undefined while it may be. */
  #refusal: string | undefined;
  #retryAt = Number.NEGATIVE_INFINITY;
  #retryMs = FIRST_RETRY_MS;
  /** When the epoch's first poll was applied: undefined between epochs. */
  #epochSince: number | undefined;
  #snapshot: Snapshot | undefined;
  /** When the last applied poll was sent. */
  #confirmedSentAt = Number.NEGATIVE_INFINITY;
  #lastSentAt = Number.NEGATIVE_INFINITY;
  #lastUsedAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  /** This poller's xmin now and then, oldest first: the clean-up's horizon once old enough. */
  #xmins: { readonly at: number; readonly xmin: bigint }[] = [];
  #cleanedBelow = 0n;

  constructor(settings: CacheTrustSettings) {
    this.#settings = settings;
    this.#statements = pollStatements(settings.names);
  }

  /**
   * The key to remember a read of the row stored as `storedId` by, when a read sent at `sentAt`
   * may be remembered; null when it may not (sent before the epoch began, or a row found by
   * candidates while the table is re-keyed: its stored id is not known).
   */
  keyToRemember(storedId: unknown, sentAt: number): string | null {
    return typeof storedId === 'string' && this.mayRemember(sentAt) ? changeKeyOf(storedId) : null;
  }

  /** May a read sent at `sentAt` be remembered? Only one sent after the epoch's first poll was applied. */
  mayRemember(sentAt: number): boolean {
    this.#use(this.#settings.now());
    return this.#epochSince !== undefined && sentAt >= this.#epochSince;
  }

  /** May an entry filled by a read sent at `readAt` answer now? */
  allows(readAt: number): boolean {
    const now = this.#settings.now();
    this.#use(now);
    return (
      this.#epochSince !== undefined &&
      readAt >= this.#epochSince &&
      now - this.#confirmedSentAt <= this.#settings.boundMs
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#lose();
    await this.#connection?.reset();
  }

  #use(now: number): void {
    this.#lastUsedAt = now;
    this.#schedule(now);
  }

  /** While the cache is used: the next poll, when one is due. */
  #schedule(now: number): void {
    if (this.#stopped || this.#polling || now - this.#lastUsedAt > IDLE_AFTER_MS) return;
    const dueAt = Math.max(this.#lastSentAt + this.#settings.boundMs / POLLS_PER_BOUND, this.#retryAt);
    if (now < dueAt) {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#schedule(this.#settings.now());
      }, dueAt - now).unref();
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#polling = true;
    this.#poll().finally(() => {
      this.#polling = false;
      this.#schedule(this.#settings.now());
    });
  }

  async #poll(): Promise<void> {
    if (!this.#checked) {
      const table = this.#settings.checkedTable?.();
      if ((table?.version ?? CHANGE_LOG_SCHEMA_VERSION) < CHANGE_LOG_SCHEMA_VERSION) {
        this.#refuse(NO_CHANGE_LOG, true);
        return;
      }
      const statements = this.#statementsFor(table);
      if (statements === undefined) {
        // Not found yet (the store's first table check is under way): ask again a little later.
        this.#retryAt = this.#settings.now() + FIRST_RETRY_MS;
        return;
      }
      this.#statements = statements;
    }
    const connection = this.#open();
    if (connection === undefined) return;
    let patience: NodeJS.Timeout | undefined;
    // A statement that never answers (a connection lost mid-statement) ends the connection and this poll.
    const answered = <T>(rows: Promise<T>) =>
      Promise.race([
        rows,
        new Promise<never>((_, reject) => {
          patience = setTimeout(() => {
            void connection.reset();
            reject(new Error(`no answer in ${POLL_PATIENCE_MS} ms`));
          }, POLL_PATIENCE_MS).unref();
        }),
      ]).finally(() => clearTimeout(patience));
    try {
      if (!this.#checked && !(await this.#check(connection, answered))) return;
      const sentAt = this.#settings.now();
      this.#lastSentAt = sentAt;
      const previous = this.#snapshot;
      const [row] = await answered(
        connection.query(this.#statements.poll.text, [previous?.xmax ?? null, previous?.xip ?? null]),
      );
      if (this.#stopped || row === undefined) return;
      if (!saysTrue(row.on)) {
        this.#refuse('the table has lost its change-log triggers (one was dropped or turned off)', true);
        return;
      }
      this.#apply(row, previous, sentAt);
      await this.#cleanUp((text, values) => answered(connection.query(text, values)));
      this.#retryMs = FIRST_RETRY_MS;
    } catch (error) {
      if (this.#stopped) return;
      if (error instanceof PollingUnusable) {
        this.#refuse(error.message, false);
        return;
      }
      this.#lose();
      this.#note(`cannot poll the change log: ${(error as Error).message}`);
      this.#checked = false;
      this.#retryAt = this.#settings.now() + this.#retryMs;
      this.#retryMs = Math.min(this.#retryMs * 2, MOST_RETRY_MS);
    }
  }

  #open(): PollConnection | undefined {
    if (this.#connection !== undefined) return this.#connection;
    const opened = this.#settings.open();
    if (typeof opened === 'string') {
      this.#refuse(opened, false);
      return undefined;
    }
    this.#connection = opened;
    return opened;
  }

  /**
   * The poller's statements. Without `schemaName`, the table's names are qualified by the schema
   * the store's table check found the table in: the polling connection's search_path may not be
   * the store's connections' (set by a pool's `connect` listener, or pg-promise's `schema`), and a
   * table of the same name that it would find first must never be polled in its place. None until
   * the table has been found.
   */
  #statementsFor(table: CheckedTable | undefined): PollStatements | undefined {
    const { names, checkedTable } = this.#settings;
    if (names.schemaName !== undefined || checkedTable === undefined) return pollStatements(names);
    return table?.schema === undefined ? undefined : pollStatements(tableNames(names.tableName, table.schema));
  }

  /** Is the change log there, its triggers on, the server new enough? Refuses when not. */
  async #check(connection: PollConnection, answered: <T>(rows: Promise<T>) => Promise<T>): Promise<boolean> {
    const [found] = await answered(connection.query(this.#statements.check.text, []));
    if (this.#stopped) return false;
    if (Number(found?.version) < CHANGE_LOG_SERVER_VERSION) {
      this.#refuse('the change log needs PostgreSQL 13 or later (its transaction ids, xid8)', false);
    } else if (!saysTrue(found?.log)) {
      this.#refuse(NO_CHANGE_LOG, true);
    } else if (!saysTrue(found?.on)) {
      this.#refuse(
        `the table's change-log triggers are off: turn them on with ${this.#settings.enableStatement}`,
        true,
      );
    } else {
      this.#checked = true;
    }
    return this.#checked;
  }

  #apply(row: Record<string, unknown>, previous: Snapshot | undefined, sentAt: number): void {
    const { cache, now } = this.#settings;
    const snapshot: Snapshot = {
      xmin: BigInt(String(row.xmin)),
      xmax: String(row.xmax),
      xip: String(row.xip ?? ''),
      connection: String(row.connection),
    };
    const changes = parseChanges(row.changes);
    const newEpoch =
      previous === undefined ||
      snapshot.connection !== previous.connection ||
      changes.some(({ key }) => key.startsWith(CLEANED_MARK) && BigInt(key.slice(1)) > previous.xmin);
    if (newEpoch) {
      cache.clear();
      this.#epochSince = now();
      this.#xmins = [];
      if (this.#refusal !== undefined) this.#settings.log('connect-pg-simple: readCache is trusted again');
      this.#refusal = undefined;
    } else if (changes.some(({ key }) => key === FORGET_ALL)) {
      cache.clear();
    } else {
      for (const { key, xid } of changes) if (!key.startsWith(CLEANED_MARK)) cache.forgetKey(key, xid);
    }
    this.#snapshot = snapshot;
    this.#confirmedSentAt = sentAt;
    const last = this.#xmins.at(-1);
    if (last === undefined || now() - last.at >= CLEAN_UP_EVERY_MS)
      this.#xmins.push({ at: now(), xmin: snapshot.xmin });
  }

  /**
   * At most once a `CLEAN_UP_EVERY_MS`: deletes the log's rows below an xmin of this poller's
   * from `LOG_RETENTION_MS` ago or more (xmin never moves back, so every later snapshot, any
   * poller's, sees them). A poller whose last snapshot is older finds the mark and starts over.
   */
  async #cleanUp(query: PollConnection['query']): Promise<void> {
    const now = this.#settings.now();
    let horizon: bigint | undefined;
    while (this.#xmins.length > 0 && now - this.#xmins[0]!.at >= LOG_RETENTION_MS) horizon = this.#xmins.shift()!.xmin;
    // Held back by a long transaction, the horizon may not move: nothing more to delete then.
    if (horizon === undefined || horizon <= this.#cleanedBelow) return;
    await query(this.#statements.cleanUp.text, [horizon.toString()]);
    this.#cleanedBelow = horizon;
  }

  /** Nothing remembered is trusted any more, nor is anything read before the next epoch begins. */
  #lose(): void {
    this.#epochSince = undefined;
    this.#snapshot = undefined;
    this.#confirmedSentAt = Number.NEGATIVE_INFINITY;
    this.#settings.cache.clear();
  }

  /** The cache cannot be trusted; with `retry`, the table is looked at again later (it may be migrated). */
  #refuse(why: string, retry: boolean): void {
    this.#lose();
    this.#note(why);
    this.#checked = false;
    void this.#connection?.reset();
    if (retry) this.#retryAt = this.#settings.now() + RECHECK_MS;
    else this.#stopped = true;
  }

  #note(why: string): void {
    if (this.#refusal === why || this.#stopped) return;
    this.#refusal = why;
    this.#settings.log(`connect-pg-simple: readCache: true reads the table meanwhile: ${why}`);
  }
}

function pollStatements(names: TableNames): PollStatements {
  return { check: changeLogCheckStatement(names), poll: pollStatement(names), cleanUp: cleanUpStatement(names) };
}
