// The demo app: Express 5 + express-session + connect-pg-simple, with accounts and "where you're signed in".
// On DATABASE_URL when set; otherwise on PGlite, a real PostgreSQL running in this process.
import connectPgSimple from 'connect-pg-simple';
import express from 'express';
import session from 'express-session';
import { createAccountsTable } from './accounts.mjs';
import { openDatabase } from './database.mjs';
import { describeDevice } from './devices.mjs';
import { errorHandler, notFound } from './errors.mjs';
import { demoRoutes } from './routes.mjs';

const PgStore = connectPgSimple(session);
const SESSION_TABLE = 'session';
const TOUCH_AFTER_SECONDS = 60;
const COOKIE_NAME = 'demo.sid';

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
    secret: process.env.SESSION_SECRET ?? 'demo secret: set SESSION_SECRET in real apps',
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 30 * 24 * 60 * 60 * 1000, sameSite: 'lax', httpOnly: true },
  }),
);
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
