// The demo app: Express 5 + express-session + connect-pg-simple.
// On DATABASE_URL when set; otherwise on PGlite, a real PostgreSQL running in this process.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import connectPgSimple from 'connect-pg-simple';
import express from 'express';
import session from 'express-session';

const PgStore = connectPgSimple(session);

async function databaseOptions() {
  if (process.env.DATABASE_URL) {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
    // An idle connection that dies (a database restart) is an 'error' event: without a listener Node.js exits.
    pool.on('error', (error) => console.error('idle database connection failed:', error.message));
    return { options: { pool }, label: 'DATABASE_URL', close: () => pool.end() };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const dataDir = resolve(process.env.DEMO_DATA_DIR ?? '.tmp/demo-pglite');
  mkdirSync(dataDir, { recursive: true });
  const pglite = await PGlite.create(dataDir);
  return { options: { pglite }, label: `PGlite in-process (${dataDir})`, close: () => pglite.close() };
}

const database = await databaseOptions();
const store = new PgStore({ ...database.options, createTableIfMissing: true });

const app = express();
app.use(
  session({
    store,
    secret: process.env.SESSION_SECRET ?? 'demo secret: set SESSION_SECRET in real apps',
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 30 * 24 * 60 * 60 * 1000, sameSite: 'lax' },
  }),
);
app.use(express.urlencoded({ extended: false }));

const escapeHtml = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

app.get('/', async (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  const live = await store.length();
  const user = req.session.user;
  res.type('html').send(`<!doctype html>
<meta charset="utf-8"><title>connect-pg-simple demo</title>
<style>body{font:16px system-ui;max-width:40rem;margin:3rem auto;padding:0 1rem}code{background:#eee;padding:0 .3em}</style>
<h1>connect-pg-simple demo</h1>
<p>${user ? `Signed in as <strong>${escapeHtml(user)}</strong>.` : 'Not signed in.'}
You have seen this page <strong>${req.session.views}</strong> time(s) in this session.</p>
<p>Sessions alive in the store: <strong>${live}</strong>. Database: <code>${escapeHtml(database.label)}</code>.</p>
${
  user
    ? '<form method="post" action="/logout"><button>Sign out</button></form>'
    : '<form method="post" action="/login"><input name="name" placeholder="your name" required> <button>Sign in</button></form>'
}`);
});

app.post('/login', (req, res, next) => {
  // A new session id on sign-in: the old one cannot be fixated.
  req.session.regenerate((error) => {
    if (error) return next(error);
    // A form post without a body (or without a name) signs in as "someone".
    const name = typeof req.body?.name === 'string' ? req.body.name.trim() : '';
    req.session.user = (name || 'someone').slice(0, 100);
    res.redirect(303, '/');
  });
});

app.post('/logout', (req, res, next) => {
  req.session.destroy((error) => (error ? next(error) : res.redirect(303, '/')));
});

const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, '127.0.0.1', () => {
  console.log(`connect-pg-simple demo on http://127.0.0.1:${server.address().port}/ (sessions in ${database.label})`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close();
    store
      .close()
      .then(() => database.close())
      .finally(() => process.exit(0));
  });
}
