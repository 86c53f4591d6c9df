import type { Database, Row } from './drivers/database.js';
import { ReplayPositions } from './replay-positions.js';
import type { ReplicaStatements } from './sql.js';
import type { Deadline, OperationsInFlight } from './time-limit.js';
import { ANY_POSITION, parseLsn, WrittenSessions } from './written-sessions.js';

/** The primary's WAL position is read at most this often, and only after writes. */
const SAMPLE_INTERVAL_MS = 50;

export interface ReplicaReadsSettings {
  /** The database behind `readPool`. */
  readonly replica: Database;
  /** The database every write goes to. */
  readonly primary: Database;
  /** The statements for the table as it is now (its id form may change when it is migrated). */
  readonly statements: () => ReplicaStatements;
  /** The store's operations in flight: a sample of the WAL position counts as one. */
  readonly inFlight: OperationsInFlight;
  readonly now: () => number;
  readonly log: (...args: unknown[]) => void;
}

/**
 * `readPool`: a `get` that a replica may answer. The replica answers only with a row, and only
 * when it is sure to show every write this process made to that session (`WrittenSessions`,
 * `ReplayPositions`); on a miss, an error or any doubt, the primary answers.
 */
export class ReplicaReads {
  readonly #settings: ReplicaReadsSettings;
  readonly #written: WrittenSessions;
  readonly #positions = new ReplayPositions();
  #sampleTimer: NodeJS.Timeout | undefined;
  #sampling = false;
  #lastSampleAt = Number.NEGATIVE_INFINITY;
  #stopped = false;
  #replicaFailing = false;
  #samplingFailing = false;

  constructor(settings: ReplicaReadsSettings) {
    this.#settings = settings;
    this.#written = new WrittenSessions(undefined, settings.now);
  }

  /** The row the replica holds for the session stored as `storedId`, when it may answer; undefined: ask the primary. */
  async read(storedId: string, values: readonly unknown[], deadline: Deadline | undefined): Promise<Row | undefined> {
    const required = this.#written.requiredPosition(storedId);
    if (required === undefined) return undefined;
    const { replica, statements, now } = this.#settings;
    const sentAt = now();
    let row: Row | undefined;
    try {
      [row] = await replica.query(statements().get, values, deadline);
      this.#replicaFailing = false;
    } catch (error) {
      if (deadline?.expired !== undefined) throw error;
      // A replica that fails must not fail the read: the primary answers. Logged once per streak.
      if (!this.#replicaFailing) this.#settings.log('connect-pg-simple: readPool failed; reading the primary:', error);
      this.#replicaFailing = true;
      return undefined;
    }
    if (row === undefined) return undefined;
    const server = String(row.server);
    const fresh = required === ANY_POSITION || this.#positions.covers(server, sentAt, required);
    if (typeof row.replayed === 'string') this.#positions.observed(server, parseLsn(row.replayed), now());
    return fresh && row.sess !== null && row.sess !== undefined ? row : undefined;
  }

  /** A write of the session stored as `storedId` ended (acknowledged or not): until a replica shows it, the primary answers for it. */
  wrote(storedId: string): void {
    this.#written.wrote(storedId);
    this.#sampleSoon();
  }

  /** Every session was written (`clear()`). */
  wroteAll(): void {
    this.#written.wroteAll();
    this.#sampleSoon();
  }

  /** No more samples; the store waits for one in flight as for any operation. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#sampleTimer);
    this.#sampleTimer = undefined;
  }

  /** Ends the connections `readPool` opened itself (none: a user's pool is never ended). */
  close(): Promise<void> {
    this.stop();
    return this.#settings.replica.close();
  }

  #sampleSoon(): void {
    if (this.#stopped || this.#sampling || this.#sampleTimer !== undefined) return;
    const wait = Math.max(0, this.#lastSampleAt + SAMPLE_INTERVAL_MS - this.#settings.now());
    this.#sampleTimer = setTimeout(() => {
      this.#sampleTimer = undefined;
      void this.#sample();
    }, wait);
    this.#sampleTimer.unref();
  }

  async #sample(): Promise<void> {
    if (this.#stopped) return;
    const { primary, statements, inFlight, now, log } = this.#settings;
    this.#sampling = true;
    const deadline = inFlight.begin("reading the primary's WAL position");
    const sentAt = now();
    this.#lastSampleAt = sentAt;
    try {
      const [row] = await primary.query(statements().walPosition, [], deadline);
      this.#written.sampled(sentAt, parseLsn(String(row?.lsn)));
      this.#samplingFailing = false;
    } catch (error) {
      if (!this.#samplingFailing) log("connect-pg-simple: could not read the primary's WAL position:", error);
      this.#samplingFailing = true;
    } finally {
      inFlight.end(deadline);
      this.#sampling = false;
      if (this.#written.needsSample) this.#sampleSoon();
    }
  }
}
