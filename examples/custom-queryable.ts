// Any object with query(text, values) → { rows } (or rows) can stand in for a pool:
// this is how a Kysely, Drizzle or hand-made connection layer plugs in.

import connectPgSimple from 'connect-pg-simple';
import session from 'express-session';
import pg from 'pg';

const pool = new pg.Pool(); // connects with pg's PG* environment variables
pool.on('error', (error) => console.error('idle PostgreSQL connection failed:', error.message));
const queryable = {
  async query(text: string, values: unknown[]) {
    const started = performance.now();
    const result = await pool.query(text, values);
    if (performance.now() - started > 100) console.warn('slow session query', text);
    return { rows: result.rows };
  },
};

export const store = new (connectPgSimple(session))({ pool: queryable });
