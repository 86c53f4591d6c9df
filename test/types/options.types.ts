// Type tests, checked by `npm run typecheck`: each option accepts the real driver object and
// rejects a wrong one. Nothing here runs.
import { PGlite } from '@electric-sql/pglite';
import express from 'express';
import session from 'express-session';
import pg from 'pg';
import pgPromise from 'pg-promise';
import postgres from 'postgres';
import connectPgSimple, { PGStore } from '../../src/index.js';

declare module 'express-session' {
  interface SessionData {
    userId: number;
  }
}

export async function typeTests(): Promise<void> {
  const PgSession = connectPgSimple(session);
  const pool = new pg.Pool();
  const client = new pg.Client();
  const sql = postgres();
  const pglite = new PGlite();
  const db = pgPromise()('postgres://localhost/db');

  const store = new PgSession({ pool, tableName: 'user_sessions', ttl: (s) => (s.cookie ? 60 : 30) });
  new PgSession({ pool: client });
  new PgSession({ pgPromise: db });
  new PgSession({ postgres: sql });
  new PgSession({ pglite });
  new PgSession({ conString: 'postgres://localhost/db', pruneSessionInterval: false });
  new PgSession();
  new PGStore({ postgres: sql });

  // express-session accepts the store as its own kind.
  express().use(session({ store, secret: 's', resave: false, saveUninitialized: false }));

  // SessionData augmentation flows through the promise API.
  const loaded = await store.get('sid');
  const userId: number | undefined = loaded?.userId;
  void userId;
  const count: number = await store.length();
  const pruned: number = await store.pruneSessions();
  store.get('sid', (error, value) => void [error, value?.userId]);
  void [count, pruned];

  // @ts-expect-error a string is no pool
  new PgSession({ pool: 'postgres://localhost/db' });
  // @ts-expect-error a pg.Pool is no postgres.js instance
  new PgSession({ postgres: pool });
  // @ts-expect-error a pg.Pool is no PGlite
  new PgSession({ pglite: pool });
  // @ts-expect-error a postgres.js instance is no pg-promise database
  new PgSession({ pgPromise: sql });
  // @ts-expect-error misspelled option
  new PgSession({ pgNativePool: pool });
  // @ts-expect-error ttl is seconds, not a string
  new PgSession({ pool, ttl: '1d' });
}
