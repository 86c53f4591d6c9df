// Koa 3 + koa-session, sessions in PostgreSQL.

import { KoaPGStore } from 'connect-pg-simple/koa';
import Koa from 'koa';
import session from 'koa-session';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
// An idle connection that dies (a database restart, a failover) is an 'error' event: without a listener, Node.js exits.
pool.on('error', (error) => console.error('idle PostgreSQL connection failed:', error.message));
const app = new Koa();
const secret = process.env.SESSION_SECRET;
if (!secret) throw new Error('Set SESSION_SECRET to a long random string: SESSION_SECRET=$(openssl rand -hex 32)');
app.keys = [secret];

app.use(
  session(
    {
      store: new KoaPGStore({ pool, createTableIfMissing: true }),
      maxAge: 24 * 60 * 60 * 1000, // also the row's lifetime, unless the store's `ttl` is set
      rolling: true, // each request extends the session; unchanged ones skip the write (lazy touch)
    },
    app,
  ),
);

app.use(async (ctx) => {
  if (ctx.path === '/logout') {
    ctx.session = null; // deletes the row: final, even for this user's requests in flight
    ctx.body = 'bye';
    return;
  }
  if (ctx.path === '/login') {
    ctx.session!.user = 'ada';
    ctx.body = 'welcome';
    return;
  }
  ctx.session!.views = (ctx.session!.views ?? 0) + 1;
  ctx.body = `views: ${ctx.session!.views}`;
});

app.listen(3000);
