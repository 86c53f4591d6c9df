import pg from 'pg';
import pgPromise from 'pg-promise';
import postgres from 'postgres';
import { type Admin, databaseUrl, serverAdmin } from './database.js';
import { startPgBouncer } from './pgbouncer.js';
import { newPGlite } from './pglite.js';

/** One way of reaching PostgreSQL, as a store option plus a raw channel for assertions. */
export interface DriverHarness {
  readonly name: string;
  /** The option that hands the driver to the store, e.g. `{ pool }`. */
  readonly storeOptions: Record<string, unknown>;
  readonly admin: Admin;
  /** A query through the very driver object handed to the store: it must still work after store.close(). */
  probe(): Promise<unknown>;
  /** PGlite runs in-process: no network, no other connection to hold a lock against it. */
  readonly inProcess?: boolean;
  close(): Promise<void>;
}

/** A pg.Pool through PgBouncer in transaction pooling mode; the store's defaults (named statements) apply. */
async function throughPgBouncer(name: string, maxPreparedStatements: number): Promise<DriverHarness> {
  const bouncer = await startPgBouncer(databaseUrl(), { maxPreparedStatements });
  const pool = new pg.Pool({ connectionString: bouncer.url, max: 4 });
  pool.on('error', () => {});
  const admin = serverAdmin();
  return {
    name: `${name} (PgBouncer ${bouncer.version})`,
    storeOptions: { pool },
    admin,
    probe: () => pool.query('SELECT 1'),
    close: async () => {
      await Promise.all([pool.end(), admin.close()]);
      await bouncer.stop();
    },
  };
}

const pgp = pgPromise({ noWarnings: true });

export const drivers: Record<string, () => Promise<DriverHarness>> = {
  async pg() {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
    const admin = serverAdmin();
    return {
      name: 'pg',
      storeOptions: { pool },
      admin,
      probe: () => pool.query('SELECT 1'),
      close: async () => void (await Promise.all([pool.end(), admin.close()])),
    };
  },
  /** The store's own connections, quick statements pipelined (`pipeline: true`). */
  async 'pg-pipeline'() {
    const admin = serverAdmin();
    return {
      name: 'pg-pipeline',
      storeOptions: { conString: databaseUrl(), pipeline: true },
      admin,
      probe: () => admin.query('SELECT 1'),
      close: () => admin.close(),
    };
  },
  async 'pg-promise'() {
    const db = pgp({ connectionString: databaseUrl(), max: 4 });
    const admin = serverAdmin();
    return {
      name: 'pg-promise',
      storeOptions: { pgPromise: db },
      admin,
      probe: () => db.one('SELECT 1 AS one'),
      close: async () => void (await Promise.all([db.$pool.end(), admin.close()])),
    };
  },
  async postgres() {
    const sql = postgres(databaseUrl(), { max: 4, onnotice: () => {} });
    const admin = serverAdmin();
    return {
      name: 'postgres',
      storeOptions: { postgres: sql },
      admin,
      probe: () => sql`SELECT 1`,
      close: async () => void (await Promise.all([sql.end(), admin.close()])),
    };
  },
  async pglite() {
    const db = await newPGlite();
    const admin: Admin = {
      query: async (text, values) => (await db.query<Record<string, any>>(text, values)).rows,
      close: async () => {},
    };
    return {
      name: 'pglite',
      storeOptions: { pglite: db },
      admin,
      inProcess: true,
      probe: () => db.query('SELECT 1'),
      close: () => db.close(),
    };
  },
  pgbouncer: () => throughPgBouncer('pgbouncer', 0),
  'pgbouncer-prepared': () => throughPgBouncer('pgbouncer-prepared', 200),
};
