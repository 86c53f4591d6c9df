// Type tests, checked by `npm run typecheck`: each adapter is accepted where its framework takes
// a store, typed by the framework's own declarations. Nothing here runs.
import { Hono } from 'hono';
import { type Session, sessionMiddleware } from 'hono-sessions';
import Koa from 'koa';
import session from 'koa-session';
import pg from 'pg';
import { createCookie, type SessionStorage } from 'react-router';
import { createStorage, type Driver } from 'unstorage';
import { HonoPGStore } from '../../src/adapters/hono.js';
import { KoaPGStore } from '../../src/adapters/koa.js';
import { createPostgresSessionStorage } from '../../src/adapters/react-router.js';
import postgresDriverByDefault, { postgresDriver } from '../../src/adapters/unstorage.js';

export function koaTypes(): void {
  const pool = new pg.Pool();
  const app = new Koa();
  app.use(session({ store: new KoaPGStore({ pool, tableName: 'koa_sessions' }), rolling: true }, app));
  app.use(session({ store: new KoaPGStore({ pool }), maxAge: 'session' }, app));
  // @ts-expect-error the root store's options are checked
  new KoaPGStore({ pool, tableNmae: 'x' });
}

interface UserData {
  userId: number;
}

export async function reactRouterTypes(request: Request): Promise<void> {
  const pool = new pg.Pool();
  const cookie = createCookie('__session', { secrets: ['s'], maxAge: 60 });
  const storage = createPostgresSessionStorage<UserData, { error: string }>({ cookie, pool });
  // It is React Router's own SessionStorage, typed by the app's session data.
  const asSessionStorage: SessionStorage<UserData, { error: string }> = storage;
  const session = await storage.getSession(request.headers.get('Cookie'));
  const userId: number | undefined = session.get('userId');
  session.flash('error', 'no');
  await storage.commitSession(session, { maxAge: 30 });
  await storage.destroySession(session);
  // @ts-expect-error the data's types hold
  session.set('userId', 'not a number');
  createPostgresSessionStorage({ pool, cookie: { name: 'sid', secrets: ['s'], sameSite: 'lax' } });
  void [asSessionStorage, userId];
}

export function honoTypes(): void {
  const pool = new pg.Pool();
  const app = new Hono<{ Variables: { session: Session<{ userId: number }>; session_key_rotation: boolean } }>();
  app.use(
    '*',
    sessionMiddleware({ store: new HonoPGStore({ pool }), expireAfterSeconds: 900, encryptionKey: 'k'.repeat(32) }),
  );
  app.get('/', (c) => c.text(String(c.get('session').get('userId'))));
}

export async function unstorageTypes(): Promise<void> {
  const pool = new pg.Pool();
  const driver: Driver = postgresDriver({ pool, tableName: 'kv' });
  const storage = createStorage<{ user: string }>({ driver });
  await storage.setItem('session:a', { user: 'ada' }, { ttl: 60 });
  createStorage({ driver: postgresDriverByDefault({ conString: 'postgres://localhost/db' }) });
}
