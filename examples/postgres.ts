// express-session on postgres.js. Behind PgBouncer in transaction mode, create `sql` with `prepare: false`.

import connectPgSimple from 'connect-pg-simple';
import express from 'express';
import session from 'express-session';
import postgres from 'postgres';

declare module 'express-session' {
  interface SessionData {
    views: number;
  }
}

const sql = postgres(process.env.DATABASE_URL ?? 'postgres://localhost/app');
const pgSession = connectPgSimple(session);

const app = express();
app.use(
  session({
    store: new pgSession({ postgres: sql, createTableIfMissing: true }),
    secret: process.env.SESSION_SECRET ?? 'change me',
    resave: false,
    saveUninitialized: false,
  }),
);
app.get('/', (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  res.send(`views: ${req.session.views}`);
});
app.listen(3000);
