// The demo app: Express 5 + express-session + connect-pg-simple, with accounts and "where you're signed in".
// On DATABASE_URL when set; otherwise on PGlite, a real PostgreSQL running in this process.
import { randomBytes } from 'node:crypto';
import connectPgSimple from 'connect-pg-simple';
import express from 'express';
import session from 'express-session';
import { createAccountsTable } from './accounts.mjs';
import { openDatabase } from './database.mjs';
import { describeDevice } from './devices.mjs';
import { errorHandler, notFound, requireSession } from './errors.mjs';
import { demoRoutes } from './routes.mjs';

const PgStore = connectPgSimple(session);
const SESSION_TABLE = 'session';
const TOUCH_AFTER_SECONDS = 60;
const COOKIE_NAME = 'demo.sid';
/** Not 3000, which the README's example app uses: both can run at once. */
const DEFAULT_PORT = 3001;

// A secret in the code would be public; without SESSION_SECRET, one made for this run (sign-ins end when it stops).
const secret = process.env.SESSION_SECRET || randomBytes(32).toString('hex');
if (!process.env.SESSION_SECRET) {
  console.warn('No SESSION_SECRET: using a random one for this run, so sign-ins end when the demo stops.');
}

const database = await openDatabase();
await createAccountsTable(database.query);
const store = new PgStore({
  ...database.storeOptions,
  tableName: SESSION_TABLE,
  createTableIfMissing: true,
  touchAfter: TOUCH_AFTER_SECONDS,
  describe: describeDevice,
});

// A session table made by an older version (an earlier `npm start`'s PGlite directory, say) has no user column: the
// demo still serves, but the account page cannot list devices until the table is migrated.
try {
  await store.userSessions('0');
} catch (error) {
  if (error?.name !== 'SchemaError') throw error;
  console.warn(`${error.message}\nThe account page needs it: ${database.upgradeAdvice}.`);
}

const app = express();
app.disable('x-powered-by');
app.use((_req, res, next) => {
  res.set({
    'Content-Security-Policy':
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'same-origin',
  });
  next();
});
app.use(
  session({
    name: COOKIE_NAME,
    store,
    secret,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 30 * 24 * 60 * 60 * 1000, sameSite: 'lax', httpOnly: true },
  }),
);
app.use(requireSession);
app.use(express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 20 }));
app.use(
  demoRoutes({
    store,
    query: database.query,
    databaseLabel: database.label,
    sessionTable: SESSION_TABLE,
    touchAfterSeconds: TOUCH_AFTER_SECONDS,
    cookieName: COOKIE_NAME,
  }),
);
app.use(notFound);
app.use(errorHandler);

const port = Number(process.env.PORT || DEFAULT_PORT);
const server = app.listen(port, '127.0.0.1');
server.once('listening', () => {
  console.log(`connect-pg-simple demo on http://127.0.0.1:${server.address().port}/ (sessions in ${database.label})`);
});
server.once('error', async (error) => {
  const taken = error.code === 'EADDRINUSE';
  console.error(
    taken
      ? `Port ${port} is taken (another program listens on 127.0.0.1:${port}): stop it, or choose another port, e.g. PORT=${port + 1} npm start`
      : `The demo cannot listen on 127.0.0.1:${port}: ${error.message}`,
  );
  await store.close();
  await database.close();
  process.exit(1);
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
