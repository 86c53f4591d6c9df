// The demo's user accounts: a table of its own beside the sessions, passwords hashed with scrypt.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt);
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_BYTES = 32;
const USERNAME = /^[\p{L}\p{N}_.-]{2,40}$/u;
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 200;

/** A sign-up or sign-in that did not succeed: the HTTP status and the message to show. */
export class AccountError extends Error {
  constructor(status, message, retryAfterSeconds = undefined) {
    super(message);
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export async function createAccountsTable(query) {
  await query(`CREATE TABLE IF NOT EXISTS demo_account (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username text NOT NULL,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`);
  await query('CREATE UNIQUE INDEX IF NOT EXISTS demo_account_username_key ON demo_account (lower(username))');
  // Every sign-in and sign-up, kept for throttling failed ones and for the admin page's chart.
  await query(`CREATE TABLE IF NOT EXISTS demo_sign_in (
    at timestamptz NOT NULL DEFAULT now(),
    username text NOT NULL,
    ip text NOT NULL,
    succeeded boolean NOT NULL
  )`);
  await query('CREATE INDEX IF NOT EXISTS demo_sign_in_username_idx ON demo_sign_in (lower(username), at)');
  await query('CREATE INDEX IF NOT EXISTS demo_sign_in_ip_idx ON demo_sign_in (ip, at)');
}

/** Failed sign-ins allowed in THROTTLE_WINDOW: per username (password guessing), per address (guessing across names). */
export const FAILURES_PER_USERNAME = 5;
export const FAILURES_PER_ADDRESS = 30;
const THROTTLE_WINDOW = '15 minutes';

/**
 * Refuses a sign-in, before any password is checked, when its username or address failed too often lately: a
 * username's count starts again at its last successful sign-in. Times are the database's.
 */
async function refuseIfThrottled(query, username, ip) {
  const [counts] = await query(
    `WITH recent AS (
       SELECT * FROM demo_sign_in WHERE at > now() - interval '${THROTTLE_WINDOW}'
     ), name_failures AS (
       SELECT at FROM recent
       WHERE lower(username) = lower($1) AND NOT succeeded
         AND at > coalesce((SELECT max(at) FROM recent WHERE lower(username) = lower($1) AND succeeded), '-infinity')
     ), address_failures AS (
       SELECT at FROM recent WHERE ip = $2 AND NOT succeeded
     )
     SELECT (SELECT count(*) FROM name_failures)::int AS by_name,
            (SELECT count(*) FROM address_failures)::int AS by_address,
            ceil(extract(epoch FROM (SELECT min(at) FROM name_failures) + interval '${THROTTLE_WINDOW}' - now()))::int AS name_wait,
            ceil(extract(epoch FROM (SELECT min(at) FROM address_failures) + interval '${THROTTLE_WINDOW}' - now()))::int AS address_wait`,
    [username, ip],
  );
  const refusal =
    counts.by_name >= FAILURES_PER_USERNAME
      ? { what: 'this username', seconds: counts.name_wait }
      : counts.by_address >= FAILURES_PER_ADDRESS
        ? { what: 'your address', seconds: counts.address_wait }
        : undefined;
  if (refusal === undefined) return;
  const minutes = Math.max(1, Math.ceil(refusal.seconds / 60));
  throw new AccountError(
    429,
    `Too many failed sign-ins for ${refusal.what}: try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
    Math.max(1, refusal.seconds),
  );
}

const recordSignIn = (query, username, ip, succeeded) =>
  query('INSERT INTO demo_sign_in (username, ip, succeeded) VALUES ($1, $2, $3)', [username, ip, succeeded]);

async function hashPassword(password, salt = randomBytes(16)) {
  const key = await scryptAsync(password.normalize('NFC'), salt, KEY_BYTES, SCRYPT);
  return `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
}

async function passwordMatches(password, stored) {
  const [, salt, expected] = stored.split('$');
  const key = await scryptAsync(password.normalize('NFC'), Buffer.from(salt, 'base64'), KEY_BYTES, SCRYPT);
  return timingSafeEqual(key, Buffer.from(expected, 'base64'));
}

// An unknown username costs the same scrypt run as a known one: the answer's timing does not tell which names exist.
const unknownUserHash = hashPassword(randomBytes(16).toString('hex'));

function credentialsFrom(form) {
  const username = typeof form?.username === 'string' ? form.username.trim().normalize('NFC') : '';
  const password = typeof form?.password === 'string' ? form.password : '';
  return { username, password };
}

/** Creates an account from a sign-up form; resolves with `{ id, username }` or rejects with an AccountError. */
export async function signUp(query, form, { ip }) {
  const { username, password } = credentialsFrom(form);
  if (!USERNAME.test(username)) {
    throw new AccountError(400, 'A username is 2 to 40 letters, digits, dots, dashes or underscores.');
  }
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new AccountError(400, `A password is ${PASSWORD_MIN} to ${PASSWORD_MAX} characters long.`);
  }
  try {
    const [account] = await query(
      'INSERT INTO demo_account (username, password_hash) VALUES ($1, $2) RETURNING id, username',
      [username, await hashPassword(password)],
    );
    await recordSignIn(query, account.username, ip, true);
    return account;
  } catch (error) {
    if (error?.code === '23505') throw new AccountError(409, 'That username is taken.');
    throw error;
  }
}

/** Checks a sign-in form from address `ip`; resolves with `{ id, username }` or rejects with an AccountError. */
export async function signIn(query, form, { ip }) {
  const { username, password } = credentialsFrom(form);
  if (username === '' || password === '' || password.length > PASSWORD_MAX) {
    throw new AccountError(400, 'Enter your username and password.');
  }
  await refuseIfThrottled(query, username, ip);
  const [account] = await query(
    'SELECT id, username, password_hash FROM demo_account WHERE lower(username) = lower($1)',
    [username],
  );
  const matches = await passwordMatches(password, account?.password_hash ?? (await unknownUserHash));
  await recordSignIn(query, username, ip, Boolean(account && matches));
  if (!account || !matches) throw new AccountError(401, 'Wrong username or password.');
  return { id: account.id, username: account.username };
}

/** The demo's one admin: the first account made. A real app would keep roles in its accounts table. */
export async function isAdmin(query, userId) {
  const [row] = await query('SELECT min(id) = $1 AS admin FROM demo_account', [Number(userId)]);
  return row?.admin === true;
}

/** Successful and failed sign-ins (and sign-ups) per hour, for the last `hours` hours, oldest first. */
export async function signInsPerHour(query, hours = 24) {
  const rows = await query(
    `SELECT extract(epoch FROM hour)::float8 * 1000 AS hour,
            count(s.at) FILTER (WHERE s.succeeded)::int AS succeeded,
            count(s.at) FILTER (WHERE NOT s.succeeded)::int AS failed
     FROM generate_series(date_trunc('hour', now()) - make_interval(hours => $1 - 1), date_trunc('hour', now()), interval '1 hour') AS hour
     LEFT JOIN demo_sign_in s ON date_trunc('hour', s.at) = hour
     GROUP BY hour ORDER BY hour`,
    [hours],
  );
  return rows.map((row) => ({ hour: new Date(row.hour), succeeded: row.succeeded, failed: row.failed }));
}

export async function countAccounts(query) {
  const [{ accounts }] = await query('SELECT count(*)::int AS accounts FROM demo_account');
  return accounts;
}
