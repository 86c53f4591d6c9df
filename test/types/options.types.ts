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
  new PGStore({ postgres: sql, connectionEvents: false });
  // @ts-expect-error connectionEvents is a boolean
  new PGStore({ postgres: sql, connectionEvents: 'no' });
  store.on('sessionCreated', (event: connectPgSimple.SessionCreatedEvent) => void event.handle);
  const traced: connectPgSimple.OperationContext['statements'] = 0;
  void traced;

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

/** Sessions per user: the options, the methods in both forms, and the listed session's type. */
export async function userSessionTypes(): Promise<void> {
  const PgSession = connectPgSimple(session);
  const store = new PgSession({
    userId: (s) => (s.passport as { user?: string } | undefined)?.user,
    describe: (_s, req) => ({ agent: (req as express.Request | undefined)?.get('user-agent') ?? null, mobile: false }),
  });
  const listed: connectPgSimple.UserSession[] = await store.userSessions(42);
  const first = listed[0];
  if (first) {
    const at: Date = first.lastActiveAt;
    const handle: string = first.handle;
    const details: Record<string, unknown> | null = first.details;
    void [at, handle, details];
  }
  const mine: string = store.sessionHandle('sid');
  const revoked: number = await store.destroyUserSessions('ada', { except: mine });
  const one: boolean = await store.destroySession(mine, { userId: 'ada' });
  store.userSessions('ada', (error, sessions) => void [error, sessions?.length]);
  store.destroyUserSessions('ada', (error, n) => void [error, n]);
  store.destroySession(mine, { userId: 1 }, (error, done) => void [error, done]);
  new PGStore({ userId: () => null }).sessionHandle('sid');
  void [revoked, one];

  // @ts-expect-error details are flat: no nested objects
  new PgSession({ describe: () => ({ nested: { a: 1 } }) });
  // @ts-expect-error a user id is a string or a number
  new PgSession({ userId: () => ({ id: 1 }) });
  // @ts-expect-error except is one session id or handle
  await store.destroyUserSessions('ada', { except: ['a', 'b'] });
}

export function errorTypes(error: unknown): string | undefined {
  // The error classes narrow by instanceof, and every one has a string code.
  if (error instanceof connectPgSimple.SchemaError) return error.code;
  if (error instanceof connectPgSimple.OperationTimeoutError) return `${error.what} ${error.timeoutMs}`;
  if (error instanceof connectPgSimple.PGStoreError) return error.code;
  const mistake = error as connectPgSimple.MistakeError;
  const code: connectPgSimple.MistakeCode = mistake.code;
  // @ts-expect-error a mistake's code is one of the documented ones
  const wrong: connectPgSimple.MistakeCode = 'ERR_SOMETHING_ELSE';
  return code + wrong;
}
