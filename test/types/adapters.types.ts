// Type tests, checked by `npm run typecheck`: each adapter is accepted where its framework takes
// a store, typed by the framework's own declarations. Nothing here runs.
import Koa from 'koa';
import session from 'koa-session';
import pg from 'pg';
import { KoaPGStore } from '../../src/adapters/koa.js';

export function koaTypes(): void {
  const pool = new pg.Pool();
  const app = new Koa();
  app.use(session({ store: new KoaPGStore({ pool, tableName: 'koa_sessions' }), rolling: true }, app));
  app.use(session({ store: new KoaPGStore({ pool }), maxAge: 'session' }, app));
  // @ts-expect-error the root store's options are checked
  new KoaPGStore({ pool, tableNmae: 'x' });
}
