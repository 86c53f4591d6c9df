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
  constructor(status, message) {
    super(message);
    this.status = status;
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
}

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
export async function signUp(query, form) {
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
    return account;
  } catch (error) {
    if (error?.code === '23505') throw new AccountError(409, 'That username is taken.');
    throw error;
  }
}

/** Checks a sign-in form; resolves with `{ id, username }` or rejects with an AccountError. */
export async function signIn(query, form) {
  const { username, password } = credentialsFrom(form);
  if (username === '' || password === '' || password.length > PASSWORD_MAX) {
    throw new AccountError(400, 'Enter your username and password.');
  }
  const [account] = await query(
    'SELECT id, username, password_hash FROM demo_account WHERE lower(username) = lower($1)',
    [username],
  );
  const matches = await passwordMatches(password, account?.password_hash ?? (await unknownUserHash));
  if (!account || !matches) throw new AccountError(401, 'Wrong username or password.');
  return { id: account.id, username: account.username };
}

export async function countAccounts(query) {
  const [{ accounts }] = await query('SELECT count(*)::int AS accounts FROM demo_account');
  return accounts;
}
