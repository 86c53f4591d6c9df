import pg from 'pg';
import { fromPgPool } from '../../src/drivers/pg.js';
import { databaseUrl } from './database.js';

/** connect-pg-simple 10.x itself, for tables and rows exactly as it makes them. */
const connectPgSimple10 = require('connect-pg-simple10') as (
  session: unknown,
) => new (
  options: object,
) => Legacy10Store;
const LegacyStore = connectPgSimple10(require('express-session'));

export interface Legacy10Store {
  set(sid: string, session: object, callback: (error?: unknown) => void): void;
  get(sid: string, callback: (error: unknown, session?: any) => void): void;
  close(): Promise<void>;
}

/** A pg pool whose connections use the given TimeZone, as an application's might. */
export function poolInTimeZone(timeZone: string, max = 4): pg.Pool {
  return new pg.Pool({ connectionString: databaseUrl(), max, options: `-c TimeZone=${timeZone}` });
}

export function legacyStore(pool: pg.Pool, schemaName: string, tableName = 'session'): Legacy10Store {
  return new LegacyStore({ pool, schemaName, tableName, createTableIfMissing: true, pruneSessionInterval: false });
}

export const legacySet = (store: Legacy10Store, sid: string, session: object) =>
  new Promise<void>((resolve, reject) => store.set(sid, session, (e) => (e ? reject(e) : resolve())));

export const legacyGet = (store: Legacy10Store, sid: string) =>
  new Promise<any>((resolve, reject) => store.get(sid, (e, s) => (e ? reject(e) : resolve(s))));

/** The instant 10.x meant to store for a session: its cookie's expiry, rounded up to a second. */
export const intendedExpiry = (session: { cookie: { expires: string } }) =>
  Math.ceil(Date.parse(session.cookie.expires) / 1000);

/** Fills a 10.x table through 10.x: `count` sessions, every fifth already expired. Returns sid → intended expiry. */
export async function fillWithLegacySessions(store: Legacy10Store, count: number): Promise<Map<string, number>> {
  const expected = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const offsetSeconds = i % 5 === 0 ? -3600 * (1 + i) : 600 + i * 97;
    const session = {
      cookie: {
        originalMaxAge: offsetSeconds * 1000,
        expires: new Date(Date.now() + offsetSeconds * 1000).toISOString(),
      },
      user: { id: i, name: `user ${i}` },
    };
    await legacySet(store, `legacy-${i}`, session);
    expected.set(`legacy-${i}`, intendedExpiry(session));
  }
  return expected;
}

/** The store's Database interface over a pg pool: what migrate() takes. */
export const databaseOf = (pool: pg.Pool | pg.Client) => fromPgPool(pool, { prepare: false });

/**
 * 10.x's table.sql for another table name, its constraint and index renamed too (10.x itself
 * keeps "session_pkey" and "IDX_session_expire", so only one of its tables fits in a schema).
 */
export function legacyTableSql(schemaName: string, tableName: string): string {
  const script: string = require('node:fs').readFileSync(require.resolve('connect-pg-simple10/table.sql'), 'utf8');
  return script
    .replaceAll('"session"', `"${schemaName}"."${tableName}"`)
    .replaceAll('"session_pkey"', `"${tableName}_pkey"`)
    .replaceAll('"IDX_session_expire"', `"IDX_${tableName}_expire"`);
}
