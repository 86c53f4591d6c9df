import type { ResolvedOptions } from './option-types.js';
import { SCHEMA_VERSION, USER_COLUMNS_VERSION } from './schema/ddl.js';
import { idUseFor, type StoreIds, type TableState } from './schema/ensure.js';
import type { Partitioning } from './schema/partitions.js';
import { parseRekeyingForm, type SessionIdForm } from './session-id.js';
import type { StoreStatements, TableNames, UserSessionStatements } from './sql.js';
import { currentStatements, currentUserStatements, type ModeSettings } from './statements/current.js';
import { partitionedStatements } from './statements/partitioned.js';
import { type TransitionalSet, transitionalStatements, transitionalUserStatements } from './statements/transitional.js';
import { type TableIds, tableIdsFor } from './table-ids.js';

/**
 * How often a store looks at its table again, to notice a migration or a re-keying (`rekey`), while
 * one may come: unless the table is at the current schema and of hmac-sha256 ids, the last form it can take.
 */
export const TABLE_RECHECK_MS = 60_000;
/**
 * As often, for a store with a pepper on a table not yet of its form: only until the table is
 * re-keyed, and the sooner it sees the re-keying begin, the fewer sessions it binds to the old form.
 */
const REKEY_RECHECK_MS = 5_000;

/** What of the store's options decides how it uses its table. */
export type SetupOptions = Pick<
  ResolvedOptions,
  'idForm' | 'sessionIdPepper' | 'synchronousCommit' | 'absoluteTimeoutSeconds' | 'partitioning'
>;

/**
 * Which statements serve the table (src/statements/): `current` and `partitioned` for a table at
 * the current schema of the store's own id form, `transitional` for one not there yet.
 */
export type StatementMode = 'current' | 'partitioned' | 'transitional';

/** How a store uses the table a check found: what the core applies, and what it says once. */
export interface TableSetup {
  readonly version: number;
  /** The schema the table was found in (see TableState.schema); undefined before the first check. */
  readonly schema: string | undefined;
  readonly mode: StatementMode;
  /** In the transitional mode, which of its sets serves the table; undefined in the others. */
  readonly transitionalSet: TransitionalSet | undefined;
  /** How the table is partitioned, when it is (as the table says, whatever `partitionBy` says). */
  readonly partitioning: Partitioning | undefined;
  /** How the table's rows are found and encrypted sessions bound. */
  readonly ids: TableIds;
  /** `own`, `legacy` or `candidates <form>`: a change of it is logged once. */
  readonly idMode: string;
  /** The form of a table not yet re-keyed that a store with a pepper serves by candidates. */
  readonly formBeforeRekey: string | undefined;
  /** When to look at the table again, in ms; undefined when it can change no more. */
  readonly recheckMs: number | undefined;
  readonly statements: StoreStatements;
  /** Schema 3's statements of sessions per user; undefined while the table cannot serve them. */
  readonly userStatements: UserSessionStatements | undefined;
  /** Why `userStatements` is undefined, when it is not the schema version. */
  readonly userStatementsRefusal: string | undefined;
}

/**
 * The absolute timeout the statements enforce: on a partitioned table, never longer than its
 * partitions keep sessions (and that long without one of the store's own).
 */
function effectiveAbsoluteTimeout(own: number | undefined, partitioning: Partitioning | undefined): number | undefined {
  if (partitioning === undefined) return own;
  return Math.min(own ?? partitioning.lifetimeSeconds, partitioning.lifetimeSeconds);
}

/**
 * The one switch of the transitional mode: the set that serves a table the current mode cannot,
 * from its shape and how the store uses its ids; undefined for a table of the current schema and
 * of the store's own id form (the current or the partitioned mode). A table before schema 2 is not
 * partitioned: the layout is by `created`, a column of schema 2.
 */
function transitionalSetFor(
  version: number,
  partitioned: boolean,
  candidates: boolean,
  storeForm: SessionIdForm,
): TransitionalSet | undefined {
  if (version < 2) {
    if (candidates) return '10.x table, id candidates';
    return storeForm === 'sha256' ? '10.x table, plain or hashed ids' : '10.x table, ids as given';
  }
  if (version < USER_COLUMNS_VERSION) {
    if (partitioned) return candidates ? 'schema 2, partitioned, id candidates' : 'schema 2, partitioned';
    return candidates ? 'schema 2, id candidates' : 'schema 2';
  }
  // Schema 4 adds only the change log and its triggers: a schema-3 table speaks the current statements too.
  if (!candidates) return undefined;
  return partitioned ? 'current schema, partitioned, id candidates' : 'current schema, id candidates';
}

export function tableSetup(
  names: TableNames,
  state: TableState,
  storeIds: StoreIds,
  options: SetupOptions,
): TableSetup {
  const partitioning = state.partitioned ? state.partitioning : undefined;
  const partitioned = partitioning !== undefined;
  const absoluteTimeoutSeconds = effectiveAbsoluteTimeout(options.absoluteTimeoutSeconds, partitioning);
  const use = idUseFor(names, state, storeIds);
  const rekeying = parseRekeyingForm(state.idForm);
  const ids = tableIdsFor(use, state.version, rekeying !== undefined, {
    form: options.idForm,
    pepper: options.sessionIdPepper,
  });
  const candidates = use.kind === 'candidates';
  const idMode = state.version < 2 ? 'legacy' : candidates ? `candidates ${state.idForm}` : 'own';
  const settled = state.version >= SCHEMA_VERSION && idMode === 'own' && options.idForm === 'hmac-sha256';
  const transitionalSet = transitionalSetFor(state.version, partitioned, candidates, options.idForm);
  const mode: StatementMode = transitionalSet !== undefined ? 'transitional' : partitioned ? 'partitioned' : 'current';
  // Mid re-keying from plain ids a row's handle depends on whether it moved yet: see docs/security.md.
  const userStatementsRefusal =
    rekeying?.from === 'plain'
      ? `connect-pg-simple: sessions per user wait for the re-keying of ${names.qualified} from plain ids to end (\`npx connect-pg-simple rekey\`): until its rows have moved, their handles are not yet known`
      : undefined;
  const settings: ModeSettings = {
    absoluteTimeoutSeconds,
    synchronousCommit: options.synchronousCommit,
    storedIdIsHandle: ids.storedIdIsHandle,
  };
  return {
    version: state.version,
    schema: state.schema,
    mode,
    transitionalSet,
    partitioning,
    ids,
    idMode,
    formBeforeRekey: use.kind === 'candidates' && rekeying === undefined ? state.idForm : undefined,
    recheckMs: settled ? undefined : ids.idCandidates ? REKEY_RECHECK_MS : TABLE_RECHECK_MS,
    statements:
      transitionalSet !== undefined
        ? transitionalStatements(names, transitionalSet, settings)
        : partitioned
          ? partitionedStatements(names, settings)
          : currentStatements(names, settings),
    userStatements:
      userStatementsRefusal !== undefined
        ? undefined
        : transitionalSet !== undefined
          ? transitionalUserStatements(names, transitionalSet, settings)
          : currentUserStatements(names, settings),
    userStatementsRefusal,
  };
}

/** What to say when the table's layout is not what the options describe; undefined: nothing. */
export function layoutNote(names: TableNames, options: SetupOptions, setup: TableSetup): string | undefined {
  const { partitioning } = setup;
  const own = options.absoluteTimeoutSeconds;
  const t = names.qualified;
  if (partitioning !== undefined && own !== undefined && own > partitioning.lifetimeSeconds) {
    return `connect-pg-simple: table ${t} is partitioned for sessions that end ${partitioning.lifetimeSeconds} s after creation (its partitions are dropped then): this store's absoluteTimeout of ${own} s is cut to that`;
  }
  if (partitioning === undefined && options.partitioning !== undefined) {
    return `connect-pg-simple: table ${t} already exists and is not partitioned: partitionBy only shapes a table the store creates (see docs/scaling.md to move to the partitioned layout)`;
  }
  return undefined;
}

/**
 * What waits for the table to be migrated or re-keyed, when `setup` differs from what the store
 * used before (`previousMode`, undefined at the first check); undefined: nothing to say.
 */
export function tableModeNote(
  names: TableNames,
  options: SetupOptions,
  setup: TableSetup,
  previousMode: string | undefined,
): string | undefined {
  if (setup.idMode === previousMode) return undefined;
  if (setup.idMode === 'legacy' && previousMode === undefined) return legacyTableNote(names, options, setup);
  if (setup.formBeforeRekey === undefined) return undefined;
  return `connect-pg-simple: table ${names.qualified} stores session ids as ${setup.formBeforeRekey}, not keyed with sessionIdPepper: this store finds sessions in either form and writes the table's, until \`npx connect-pg-simple rekey\` re-keys it (every store that uses the table needs sessionIdPepper first)`;
}

function legacyTableNote(names: TableNames, options: SetupOptions, setup: TableSetup): string | undefined {
  const waits = [
    options.idForm === 'plain' ? undefined : 'session ids are stored as given, not hashed',
    options.absoluteTimeoutSeconds === undefined ? undefined : 'absoluteTimeout is not enforced',
  ].filter((line) => line !== undefined);
  if (waits.length === 0) return undefined;
  const pepperNote =
    options.idForm === 'hmac-sha256' ? ', then re-keyed for sessionIdPepper with `npx connect-pg-simple rekey`' : '';
  return `connect-pg-simple: table ${names.qualified} is at schema version ${setup.version}: ${waits.join(', and ')} until it is migrated with \`npx connect-pg-simple migrate\`${pepperNote}`;
}
