import type { Database } from '../drivers/database.js';
import { ENVELOPE_START } from '../encryption.js';
import { parseRekeyingForm, type Rekeying } from '../session-id.js';
import { describeTableStatement, quoteLiteral, REKEYED_COLUMN, type TableNames } from '../sql.js';
import { readTableState } from './ensure.js';
import { EXACT_COUNT_LIMIT } from './stats.js';

/** About how many rows the sample holds. */
const SAMPLE_ROWS = 100_000;

/** How the table stores ids and sessions, for `stats`. */
export interface StorageForms {
  /**
   * The id form its `sid` column records: `plain`, `sha256`, `hmac-sha256`, or a re-keying
   * (`rekeying` says more); `plain` for a table before schema 2, which records none.
   */
  readonly idForm: string;
  /** While `connect-pg-simple rekey` moves the rows: from what, with which pepper, how many rows left. */
  readonly rekeying: (Rekeying & { readonly rowsLeft: number }) | undefined;
  /** Live sessions, by how their data is stored; estimates when `sampled`. */
  readonly encryption: {
    /** Encrypted live sessions, by the id of the key that encrypted them (see encryption.ts). */
    readonly byKeyId: Readonly<Record<string, number>>;
    readonly encrypted: number;
    /** Live sessions stored as plain JSON. */
    readonly plain: number;
    /** Counted in a sample of the table's pages (TABLESAMPLE SYSTEM), scaled up: a big table. */
    readonly sampled: boolean;
  };
}

/** The planner's estimate of a plain table's rows (-1 before its first ANALYZE). */
async function plannerRowEstimate(db: Database, table: string): Promise<number> {
  const [size] = await db.query(
    { name: '', text: 'SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass($1::text)' },
    [table],
  );
  return Number(size?.n ?? 0);
}

/** The key id of a stored text that is an envelope (`"cps:v1:<key id>:…`), else ''; counted without decrypting. */
const keyIdOfStored = `CASE WHEN left(sess::text, ${ENVELOPE_START.length}) = ${quoteLiteral(ENVELOPE_START)} THEN split_part(substr(sess::text, ${ENVELOPE_START.length + 1}, 64), ':', 1) ELSE '' END`;

/** $1 percent of the pages to read (100: all) → key_id ('' for plain JSON), n */
const byKeyQuery = (t: string) =>
  `SELECT ${keyIdOfStored} AS key_id, count(*)::float8 AS n FROM ${t} TABLESAMPLE SYSTEM ($1::float8) WHERE expire > now() GROUP BY 1`;

export interface StorageCountLimits {
  /** Above this many rows (the planner's estimate), count in a sample. */
  readonly exactCountLimit?: number;
  /** About how many rows the sample holds. */
  readonly sampleRows?: number;
  /**
   * The planner's estimate of the table's rows, when the caller has it (`stats` does, summed over
   * the partitions of a partitioned table, whose own estimate PostgreSQL leaves at -1).
   */
  readonly rowEstimate?: number;
}

/** The table's id form and the storage of its live sessions; undefined when the table does not exist. */
export async function readStorageForms(
  db: Database,
  names: TableNames,
  { exactCountLimit = EXACT_COUNT_LIMIT, sampleRows = SAMPLE_ROWS, rowEstimate }: StorageCountLimits = {},
): Promise<StorageForms | undefined> {
  const state = await readTableState(db, { describe: describeTableStatement }, names);
  if (!state.exists) return undefined;
  const t = names.qualified;
  const estimatedRows = rowEstimate ?? (await plannerRowEstimate(db, t));
  const sampled = estimatedRows > exactCountLimit;
  const percent = sampled ? Math.min(100, Math.max(0.01, (100 * sampleRows) / estimatedRows)) : 100;
  const rows = await db.query({ name: '', text: byKeyQuery(t) }, [percent]);
  const scale = 100 / percent;
  const byKeyId: Record<string, number> = {};
  let plain = 0;
  for (const row of rows) {
    const n = Math.round(Number(row.n) * scale);
    if (row.key_id === '') plain += n;
    else byKeyId[String(row.key_id)] = n;
  }
  const rekeying = parseRekeyingForm(state.idForm);
  let rowsLeft = 0;
  if (rekeying !== undefined) {
    const [left] = await db.query(
      { name: '', text: `SELECT count(*)::float8 AS n FROM ${t} WHERE ${REKEYED_COLUMN} IS NULL` },
      [],
    );
    rowsLeft = Number(left?.n ?? 0);
  }
  return {
    idForm: state.version < 2 ? 'plain' : (state.idForm ?? 'unrecorded'),
    rekeying: rekeying === undefined ? undefined : { ...rekeying, rowsLeft },
    encryption: {
      byKeyId,
      encrypted: Object.values(byKeyId).reduce((sum, n) => sum + n, 0),
      plain,
      sampled,
    },
  };
}
