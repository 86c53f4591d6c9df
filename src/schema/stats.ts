import type { Database } from '../drivers/database.js';
import type { TableNames } from '../sql.js';
import { parseVersionComment } from './ddl.js';

/** Seconds since the epoch, as PostgreSQL's clock has them; `null` for never. */
type Instant = number | null;

export interface TableStats {
  readonly table: string;
  readonly version: number;
  /** The database's clock when the figures were read. */
  readonly now: number;
  readonly liveSessions: number;
  readonly expiredSessions: number;
  /** Seconds since the longest-expired session expired; `null` when none has. */
  readonly oldestExpiredAgeSeconds: number | null;
  readonly tableBytes: number;
  readonly indexBytes: number;
  /** The table's storage parameters, such as `fillfactor=90`. */
  readonly storageOptions: readonly string[];
  /** From pg_stat_user_tables: estimates, as of the statistics' last update. */
  readonly liveTuples: number;
  readonly deadTuples: number;
  readonly lastVacuum: Instant;
  readonly lastAutovacuum: Instant;
  readonly lastAnalyze: Instant;
  readonly lastAutoanalyze: Instant;
}

const epoch = (column: string) => `extract(epoch FROM ${column})::float8`;

const catalogQuery = `SELECT ${epoch('now()')} AS now,
  obj_description(c.oid, 'pg_class') AS comment,
  pg_table_size(c.oid)::float8 AS table_bytes,
  pg_indexes_size(c.oid)::float8 AS index_bytes,
  coalesce(c.reloptions, '{}')::text[] AS options,
  coalesce(s.n_live_tup, 0)::float8 AS live_tuples,
  coalesce(s.n_dead_tup, 0)::float8 AS dead_tuples,
  ${epoch('s.last_vacuum')} AS last_vacuum,
  ${epoch('s.last_autovacuum')} AS last_autovacuum,
  ${epoch('s.last_analyze')} AS last_analyze,
  ${epoch('s.last_autoanalyze')} AS last_autoanalyze
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = to_regclass($1::text)`;

const countQuery = (t: string) => `SELECT count(*) FILTER (WHERE expire > now())::float8 AS live,
  count(*) FILTER (WHERE expire <= now())::float8 AS expired,
  ${epoch('now() - min(expire)')} AS oldest_age
FROM ${t}`;

const instant = (value: unknown): Instant => (value === null || value === undefined ? null : Number(value));

/** The table's figures, or `undefined` when it does not exist. Counting reads the whole table. */
export async function readTableStats(db: Database, names: TableNames): Promise<TableStats | undefined> {
  const [catalog] = await db.query({ name: '', text: catalogQuery }, [names.qualified]);
  if (catalog === undefined) return undefined;
  const [counts] = await db.query({ name: '', text: countQuery(names.qualified) }, []);
  const oldestAge = instant(counts?.oldest_age);
  return {
    table: names.qualified,
    version: parseVersionComment(catalog.comment as string | null),
    now: Number(catalog.now),
    liveSessions: Number(counts?.live ?? 0),
    expiredSessions: Number(counts?.expired ?? 0),
    oldestExpiredAgeSeconds: oldestAge !== null && oldestAge >= 0 ? oldestAge : null,
    tableBytes: Number(catalog.table_bytes),
    indexBytes: Number(catalog.index_bytes),
    storageOptions: (catalog.options as string[] | null) ?? [],
    liveTuples: Number(catalog.live_tuples),
    deadTuples: Number(catalog.dead_tuples),
    lastVacuum: instant(catalog.last_vacuum),
    lastAutovacuum: instant(catalog.last_autovacuum),
    lastAnalyze: instant(catalog.last_analyze),
    lastAutoanalyze: instant(catalog.last_autoanalyze),
  };
}
