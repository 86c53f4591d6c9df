// express-session on PGlite: PostgreSQL in-process, no server to run (development, demos, tests).
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import connectPgSimple from 'connect-pg-simple';
import express from 'express';
import session from 'express-session';

declare module 'express-session' {
  interface SessionData {
    views: number;
  }
}

// PGlite creates the data directory itself, but not its parents.
const dataDir = process.env.PGLITE_DATA_DIR ?? './.data/sessions';
mkdirSync(dataDir, { recursive: true });
const pglite = await PGlite.create(dataDir); // or PGlite.create() for memory only
const pgSession = connectPgSimple(session);

const app = express();
app.use(
  session({
    store: new pgSession({ pglite, createTableIfMissing: true }),
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
