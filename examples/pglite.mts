// express-session on PGlite: PostgreSQL in-process, no server to run (development, demos, tests).
import { PGlite } from '@electric-sql/pglite';
import connectPgSimple from 'connect-pg-simple';
import express from 'express';
import session from 'express-session';

const pglite = await PGlite.create('./.data/sessions'); // or PGlite.create() for memory only
const PgStore = connectPgSimple(session);

const app = express();
app.use(
  session({
    store: new PgStore({ pglite, createTableIfMissing: true }),
    secret: 'change me',
    resave: false,
    saveUninitialized: false,
  }),
);
app.listen(3000);
