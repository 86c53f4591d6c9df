// express-session on a pg-promise database object.

import connectPgSimple from 'connect-pg-simple';
import express from 'express';
import session from 'express-session';
import pgPromise from 'pg-promise';

const db = pgPromise()(process.env.DATABASE_URL ?? 'postgres://localhost/app');
const PgStore = connectPgSimple(session);

const app = express();
app.use(
  session({ store: new PgStore({ pgPromise: db }), secret: 'change me', resave: false, saveUninitialized: false }),
);
app.listen(3000);
