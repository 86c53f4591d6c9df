// Hono on Node.js + hono-sessions, sessions in PostgreSQL.
import { serve } from '@hono/node-server';
import { HonoPGStore } from 'connect-pg-simple/hono';
import { Hono } from 'hono';
import { type Session, sessionMiddleware } from 'hono-sessions';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
// An idle connection that dies (a database restart, a failover) is an 'error' event: without a listener, Node.js exits.
pool.on('error', (error) => console.error('idle PostgreSQL connection failed:', error.message));
const store = new HonoPGStore({ pool, createTableIfMissing: true });

const secret = process.env.SESSION_SECRET;
if (!secret || secret.length < 32) {
  throw new Error(
    'Set SESSION_SECRET to a random string of at least 32 characters: SESSION_SECRET=$(openssl rand -hex 32)',
  );
}

const app = new Hono<{
  Variables: { session: Session<{ user: string; views: number }>; session_key_rotation: boolean };
}>();
app.use(
  '*',
  sessionMiddleware({
    store,
    encryptionKey: secret, // at least 32 characters
    expireAfterSeconds: 900, // the row's lifetime too; extended on each request (lazily)
    cookieOptions: { path: '/', httpOnly: true, sameSite: 'Lax' },
  }),
);

app.post('/login', (c) => {
  c.set('session_key_rotation', true); // a new id at login: the old row is deleted
  c.get('session').set('user', 'ada');
  return c.text('welcome');
});
app.post('/logout', (c) => {
  c.get('session').deleteSession(); // final, even for this user's requests in flight
  return c.text('bye');
});
app.get('/', (c) => {
  const session = c.get('session');
  const views = (session.get('views') ?? 0) + 1;
  session.set('views', views);
  return c.text(`views: ${views}`);
});

serve({ fetch: app.fetch, port: 3000 });
