import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import pgPromise from 'pg-promise';
import postgres from 'postgres';
import { type Admin, databaseUrl, serverAdmin } from './database.js';

/** One way of reaching PostgreSQL, as a store option plus a raw channel for assertions. */
export interface DriverHarness {
  readonly name: string;
  /** The option that hands the driver to the store, e.g. `{ pool }`. */
  readonly storeOptions: Record<string, unknown>;
  readonly admin: Admin;
  /** A query through the very driver object handed to the store: it must still work after store.close(). */
  probe(): Promise<unknown>;
  close(): Promise<void>;
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
    const db = await PGlite.create();
    const admin: Admin = {
      query: async (text, values) => (await db.query<Record<string, any>>(text, values)).rows,
      close: async () => {},
    };
    return {
      name: 'pglite',
      storeOptions: { pglite: db },
      admin,
      probe: () => db.query('SELECT 1'),
      close: () => db.close(),
    };
  },
};
