// express-session on a pg.Pool: the recommended setup.

import connectPgSimple from 'connect-pg-simple';
import express from 'express';
import session from 'express-session';
import pg from 'pg';

// TypeScript: say what your sessions hold (needs @types/express-session).
declare module 'express-session' {
  interface SessionData {
    views: number;
  }
}

const pgSession = connectPgSimple(session);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
// An idle connection that dies (a database restart, a failover) is an 'error' event: without a listener, Node.js exits.
pool.on('error', (error) => console.error('idle PostgreSQL connection failed:', error.message));

const app = express();
app.use(
  session({
    store: new pgSession({ pool, createTableIfMissing: true }),
    secret: process.env.SESSION_SECRET ?? 'change me',
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 30 * 24 * 60 * 60 * 1000 }, // 30 days
  }),
);
app.get('/', (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  res.send(`views: ${req.session.views}`);
});
app.listen(3000);
