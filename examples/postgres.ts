// express-session on postgres.js. Behind PgBouncer in transaction mode, create `sql` with `prepare: false`.

import connectPgSimple from 'connect-pg-simple';
import express from 'express';
import session from 'express-session';
import postgres from 'postgres';

const sql = postgres(process.env.DATABASE_URL ?? 'postgres://localhost/app');
const PgStore = connectPgSimple(session);

const app = express();
app.use(
  session({ store: new PgStore({ postgres: sql }), secret: 'change me', resave: false, saveUninitialized: false }),
);
app.listen(3000);
