import type { Database } from './drivers/database.js';
import type { SessionCipher } from './encryption.js';
import type { ResolvedOptions } from './option-types.js';
import { ensureTable, type StoreIds } from './schema/ensure.js';
import type { TableNames } from './sql.js';
import { currentStatements } from './statements/current.js';
import { tableIdsFor } from './table-ids.js';
import { layoutNote, TABLE_RECHECK_MS, type TableSetup, tableModeNote, tableSetup } from './table-setup.js';
import type { OperationsInFlight } from './time-limit.js';
import { SessionHandles } from './user-sessions.js';

/**
 * What the store knows of its table, as a check found it: made whole by each check and swapped
 * whole, never changed in place.
 */
export interface TableSnapshot extends Omit<TableSetup, 'idMode'> {
  /** Undefined until the first check. */
  readonly idMode: string | undefined;
  /** Handles and `details`, for the table's ids. */
  readonly handles: SessionHandles;
}

export interface TableWatchSettings {
  readonly db: Database;
  readonly names: TableNames;
  readonly options: ResolvedOptions;
  /** How ids are stored, as this store makes them. */
  readonly storeIds: StoreIds;
  readonly cipher: SessionCipher | undefined;
  readonly inFlight: OperationsInFlight;
  readonly now: () => number;
  readonly log: (...args: unknown[]) => void;
}

/**
 * The store's table, as its checks find it: checked before the first operation, and again only
 * while it may change (a migration, a re-keying), in the background, at most once a period.
 */
export class TableWatch {
  readonly #settings: TableWatchSettings;
  #table: TableSnapshot;
  /** Set while the table may still change: when to look at it again. */
  #recheckAt: number | undefined;
  /** What was said once about the table's layout, so that a recheck does not repeat it. */
  #layoutNoted = false;
  #ready: Promise<void> | undefined;
  #isReady = false;

  constructor(settings: TableWatchSettings) {
    this.#settings = settings;
    const { options, names, cipher } = settings;
    const ids = tableIdsFor({ kind: 'own' }, 2, false, { form: options.idForm, pepper: options.sessionIdPepper });
    this.#table = {
      version: 0,
      schema: undefined,
      mode: 'current',
      transitionalSet: undefined,
      partitioning: undefined,
      ids,
      idMode: undefined,
      formBeforeRekey: undefined,
      recheckMs: undefined,
      // Until the table check says which ones the table needs: the check's own statement.
      statements: currentStatements(names),
      userStatements: undefined,
      userStatementsRefusal: undefined,
      handles: new SessionHandles(ids.handleOf, cipher),
    };
  }

  /** The table as the last check found it: an operation reads it once, when it starts. */
  get table(): TableSnapshot {
    return this.#table;
  }

  /** Has a check found the table usable (and no recheck found it unusable since)? */
  get isReady(): boolean {
    return this.#isReady;
  }

  /** Resolves once a check has found the table usable; the first operation starts the first check. */
  whenReady(): Promise<void> {
    this.#ready ??= this.check().then(
      () => {
        this.#isReady = true;
      },
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    return this.#ready;
  }

  /**
   * As an operation starts: while the table may be migrated or re-keyed, looks at it again when
   * it is time, in the background. Until then the statements find a row in any form it may have,
   * so no session is missed meanwhile; before schema 3, rows are written without a user,
   * recorded by their next request once the store uses schema 3's statements.
   */
  recheckIfDue(): void {
    const { now, log } = this.#settings;
    if (this.#recheckAt === undefined || now() < this.#recheckAt) return;
    this.#recheckAt = now() + (this.#table.recheckMs ?? TABLE_RECHECK_MS);
    this.check().catch((error: unknown) => {
      log('connect-pg-simple: the session table cannot be used any more:', error);
      this.#isReady = false;
      this.#ready = undefined;
    });
  }

  /** Looks at the table now, and swaps in what it found. */
  async check(): Promise<void> {
    const { db, names, options, storeIds, cipher, inFlight, now, log } = this.#settings;
    const deadline = inFlight.begin('checking the session table');
    try {
      const state = await ensureTable(
        db,
        this.#table.statements,
        names,
        options.createTableIfMissing,
        storeIds,
        deadline,
        options.partitioning,
      );
      const setup = tableSetup(names, state, storeIds, options);
      if (!this.#layoutNoted) {
        const note = layoutNote(names, options, setup);
        if (note !== undefined) log(note);
        this.#layoutNoted = note !== undefined;
      }
      const modeNote = tableModeNote(names, options, setup, this.#table.idMode);
      if (modeNote !== undefined) log(modeNote);
      this.#table = { ...setup, handles: new SessionHandles(setup.ids.handleOf, cipher, setup.ids.detailsBindings) };
      this.#recheckAt = setup.recheckMs === undefined ? undefined : now() + setup.recheckMs;
    } finally {
      inFlight.end(deadline);
    }
  }
}
