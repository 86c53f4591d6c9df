import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import pg from 'pg';
import connectPgSimple from '../src/index.js';
import { REDACTED_NOTE, redactForLog } from '../src/redact.js';
import { databaseUrl, eventually, uniqueName } from './support/database.js';

const { PGStore } = connectPgSimple;

/** Everything a logger might print: message, stack, own properties (hidden ones too), causes. */
const printed = (value: unknown) => `${inspect(value, { depth: 10, showHidden: true })}\n${String(value)}`;

describe('redactForLog (no database)', () => {
  class DriverError extends Error {
    code = '23505';
    detail = 'Key (sid)=(secret-sid) already exists.';
    where = 'JSON data, line 1: {"secret"...';
    internalQuery = "SELECT 'secret-sid'";
    constraint = 'session_pkey';
  }

  it('keeps the class, message, stack and SQLSTATE fields; removes what may quote values', () => {
    const error = new DriverError('duplicate key value violates unique constraint "session_pkey"');
    Object.defineProperty(error, 'parameters', { value: ['secret-sid', '{"secret":1}'], enumerable: false });
    const safe = redactForLog(error) as DriverError;
    assert.ok(safe instanceof DriverError);
    assert.equal(safe.message, error.message);
    assert.equal(safe.stack, error.stack);
    assert.equal(safe.code, '23505');
    assert.equal(safe.constraint, 'session_pkey');
    assert.equal(safe.detail, REDACTED_NOTE);
    assert.equal(safe.where, REDACTED_NOTE);
    assert.equal(safe.internalQuery, REDACTED_NOTE);
    assert.ok(!Object.hasOwn(safe, 'parameters'));
    assert.ok(!printed(safe).includes('secret'), printed(safe));
    assert.match(error.detail, /secret-sid/, 'the original error is left as it was');
  });

  it('redacts a cause; leaves alone errors with nothing to remove, and other values', () => {
    const wrapped = new Error('prune failed', { cause: new DriverError('duplicate key') });
    assert.ok(!printed(redactForLog(wrapped)).includes('secret'));
    const plain = new TypeError('plain');
    assert.equal(redactForLog(plain), plain);
    assert.equal(redactForLog('connect-pg-simple: a message'), 'connect-pg-simple: a message');
    assert.equal(redactForLog(undefined), undefined);
  });
});

describe('errorLog never receives session data from a server error', () => {
  let pool: pg.Pool;
  let schemaName: string;
  const t = (name: string) => `"${schemaName}"."${name}"`;

  before(async () => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
    schemaName = uniqueName('cps_redact');
    await pool.query(`CREATE SCHEMA "${schemaName}"`);
  });
  after(async () => {
    await pool.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await pool.end();
  });

  /** A session table holding one expired session. */
  async function tableWithExpiredSession(tableName: string, sid: string, sess: object) {
    const creator = new PGStore({
      pool,
      schemaName,
      tableName,
      createTableIfMissing: true,
      pruneSessionInterval: false,
    });
    await creator.length();
    await creator.close();
    await pool.query(`INSERT INTO ${t(tableName)} VALUES ($1, $2, now() - interval '1 hour')`, [sid, sess]);
  }

  for (const [label, setUp] of [
    [
      "a foreign key's detail quotes the session id",
      async (table: string) => {
        await pool.query(
          `CREATE TABLE ${t(`${table}_user`)} (sid text REFERENCES ${t(table)} (sid) ON DELETE RESTRICT)`,
        );
        await pool.query(`INSERT INTO ${t(`${table}_user`)} SELECT sid FROM ${t(table)}`);
      },
    ],
    [
      "a trigger's detail quotes the session data",
      async (table: string) => {
        await pool.query(`CREATE FUNCTION ${t(`${table}_keep`)}() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'sessions are kept' USING DETAIL = 'row: ' || OLD.sess::text; END $$`);
        await pool.query(
          `CREATE TRIGGER keep BEFORE DELETE ON ${t(table)} FOR EACH ROW EXECUTE FUNCTION ${t(`${table}_keep`)}()`,
        );
      },
    ],
  ] as const) {
    it(`${label}: logged without it, returned to the caller with it`, async () => {
      const table = label.startsWith('a foreign') ? 'fk' : 'trigger';
      const sid = `secret-sid-${table}`;
      const sess = { cookie: {}, secret: `secret-data-${table}` };
      await tableWithExpiredSession(table, sid, sess);
      await setUp(table);

      const logged: unknown[][] = [];
      const store = new PGStore({
        pool,
        schemaName,
        tableName: table,
        pruneSessionInterval: 0.05,
        pruneSessionRandomizedInterval: false,
        // Without the lock, the manual prune below never stands down for an automatic one running at that moment.
        pruneLock: false,
        errorLog: (...args: unknown[]) => logged.push(args),
      });
      try {
        store.length(() => {}); // starts the automatic prune
        assert.ok(await eventually(async () => logged.length > 0, 10_000), 'the failed prune was logged');
        const [text, error] = logged[0] as [string, any];
        assert.match(text, /failed to prune/);
        assert.match(error.code, /^(23001|23503|P0001)$/);
        assert.equal(error.detail, REDACTED_NOTE);
        for (const args of logged) {
          const shown = printed(args);
          assert.ok(!shown.includes(sid) && !shown.includes(sess.secret), `errorLog got session data:\n${shown}`);
        }
        const returned: any = await store.pruneSessions().catch((e: unknown) => e);
        assert.ok(returned.detail.includes(table === 'fk' ? sid : sess.secret), 'the caller gets the error as it was');
      } finally {
        await store.close();
      }
    });
  }
});
