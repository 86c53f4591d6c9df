import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import pgPromise from 'pg-promise';
import postgres from 'postgres';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../scripts/embedded-postgres.mjs';
import { connectionStringProblem } from '../src/connection-string.js';
import { explainConnectionError, explainWaitForConnection } from '../src/drivers/connection-errors.js';
import { OperationTimeoutError } from '../src/errors.js';
import { PGStore } from '../src/index.js';
import { databaseUrl, eventually } from './support/database.js';
import { useSchemaStores } from './support/driver-stores.js';
import { closedPort, silentServer } from './support/servers.js';
import { skipUnlessInstalled } from './support/system-tools.js';

/** The connection phase's mistakes: each fails soon, says what to do, and keeps the driver's error as its cause. */
describe('connection errors say what to do', () => {
  const { admin, newStore, schemaName } = useSchemaStores('cps_connect');

  it('a pg.Client never connected fails at once, saying to connect it or pass a pg.Pool', async () => {
    const client = new pg.Client({ connectionString: databaseUrl() });
    const store = newStore({ pool: client, operationTimeout: 2000 });
    await assert.rejects(store.length(), (error: any) => {
      assert.match(
        error.message,
        /the pg.Client given as "pool" is not connected: call client.connect\(\) first, or pass a pg.Pool/,
      );
      assert.equal(error.code, 'ENOTCONN');
      return true;
    });
    await client.connect();
    try {
      assert.equal(await store.length(), 0, 'once connected, it works');
    } finally {
      await client.end();
    }
  });

  it('a missing table names the database and user it was looked for in', async () => {
    const [{ database, user }] = await admin.query('SELECT current_database() AS database, current_user AS "user"');
    const store = newStore({ conString: databaseUrl(), tableName: 'cps_no_such_table', createTableIfMissing: false });
    await assert.rejects(store.length(), (error: any) => {
      assert.equal(error.code, '42P01');
      assert.ok(
        error.message.startsWith(
          `connect-pg-simple: table "${schemaName}"."cps_no_such_table" does not exist in database "${database}" (as user "${user}"): create it with table.sql`,
        ),
        error.message,
      );
      assert.match(
        error.message,
        /if that is the wrong database, check the connection settings \(DATABASE_URL, conString\)$/,
      );
      return true;
    });
  });

  it('SSL to a server without SSL says so', async (t) => {
    const [{ ssl }] = await admin.query('SHOW ssl');
    if (ssl === 'on') return t.skip('this server accepts SSL connections');
    const store = newStore({ conObject: { connectionString: databaseUrl(), ssl: { rejectUnauthorized: false } } });
    await assert.rejects(store.length(), (error: any) => {
      assert.match(
        error.message,
        /:\d+ does not accept SSL connections: connect without SSL .*or turn SSL on in the server/,
      );
      assert.equal(error.cause.message, 'The server does not support SSL connections');
      return true;
    });
  });

  it('a port with nothing listening: connection refused, at that address', async () => {
    const port = await closedPort();
    const store = newStore({ conString: `postgres://nobody:Sup3rS3cret@127.0.0.1:${port}/db` });
    await assert.rejects(store.length(), (error: any) => {
      assert.match(
        error.message,
        new RegExp(
          `could not connect to 127\\.0\\.0\\.1:${port}: connection refused \\(ECONNREFUSED\\); is PostgreSQL running there\\?`,
        ),
      );
      assert.equal(error.code, 'ECONNREFUSED');
      assert.ok(error.cause, 'the driver error is the cause');
      assert.doesNotMatch(error.message, /Sup3r/);
      return true;
    });
  });

  it('through pg-promise too', async () => {
    const port = await closedPort();
    const pgp = pgPromise();
    const db = pgp(`postgres://nobody@127.0.0.1:${port}/db`);
    try {
      const store = newStore({ pgPromise: db });
      await assert.rejects(store.length(), (error: any) => {
        assert.match(error.message, new RegExp(`could not connect to 127\\.0\\.0\\.1:${port}: connection refused`));
        assert.equal(error.code, 'ECONNREFUSED');
        return true;
      });
    } finally {
      pgp.end();
    }
  });

  it('a server that never answers: the time limit says it was connecting, and where', async () => {
    const silent = await silentServer();
    try {
      const owned = newStore({ conString: `postgres://nobody@127.0.0.1:${silent.port}/db`, operationTimeout: 300 });
      await assert.rejects(owned.get('a'), (error: any) => {
        assert.equal(error.name, 'TimeoutError');
        assert.equal(error.code, 'ETIMEDOUT');
        assert.match(
          error.message,
          new RegExp(
            `took longer than operationTimeout \\(300 ms\\): could not connect to 127\\.0\\.0\\.1:${silent.port} in that time`,
          ),
        );
        return true;
      });
      const pool = new pg.Pool({
        connectionString: `postgres://nobody@127.0.0.1:${silent.port}/db`,
        connectionTimeoutMillis: 200,
      });
      try {
        const store = newStore({ pool, operationTimeout: false });
        await assert.rejects(store.length(), (error: any) => {
          assert.equal(error.name, 'TimeoutError');
          assert.equal(error.code, 'ETIMEDOUT');
          assert.match(error.message, new RegExp(`could not connect to 127\\.0\\.0\\.1:${silent.port} within 200 ms`));
          assert.match(error.cause.message, /connection timeout/);
          return true;
        });
      } finally {
        await pool.end();
      }
    } finally {
      await silent.close();
    }
  });

  it('a password that cuts the connection string short says to percent-encode it', async () => {
    assert.throws(
      () => new PGStore({ conString: 'postgres://someone:se#cret@db.example.com/app' }),
      (error: Error) =>
        error instanceof TypeError &&
        /option "conString" cannot be used: the password \(or user name\) in the connection string holds a "#": percent-encode it/.test(
          error.message,
        ) &&
        !error.message.includes('cret'),
    );
    assert.throws(
      () => new PGStore({ conString: 'postgres://someone:se:c/ret@host:x/app' }),
      /option "conString" cannot be used: the connection string is not a valid URL; if the password holds/,
    );
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = 'postgres://someone:se#cret@db.example.com/app';
    try {
      assert.throws(() => new PGStore({}), /the DATABASE_URL environment variable cannot be used/);
      assert.ok(new PGStore({ pool: new pg.Pool(), pruneSessionInterval: false }), 'DATABASE_URL unused: no matter');
    } finally {
      process.env.DATABASE_URL = saved;
    }
    // "/" in the password: the user name becomes the host, and the lookup fails.
    const store = newStore({ conString: 'postgres://cps_nobody:12/34@127.0.0.1/test' });
    await assert.rejects(store.length(), (error: any) => {
      assert.match(
        error.message,
        /could not find the host "cps_nobody" \((ENOTFOUND|EAI_AGAIN)\): the connection string seems cut short by a character of its password: percent-encode it/,
      );
      return true;
    });
  });

  it('an unencoded @ in the password works: pg reads the last @ as the end of the password', async (t) => {
    const url = new URL(databaseUrl());
    if (url.password !== '') return t.skip('the test server checks passwords');
    const store = newStore({ conString: `postgres://${url.username}:p@ss@${url.host}${url.pathname}` });
    assert.equal(await store.length(), 0);
  });
});

/** A refused login says what was tried (host, port, database, user; never the password) and what to do. */
describe('connection errors of a refused login', () => {
  const PASSWORD = 'Corr3ct-h0rse';
  let server: EmbeddedPostgres | undefined;
  let missing: string | undefined;
  const stores: PGStore[] = [];
  const storeAt = (conString: string) => {
    const store = new PGStore({ conString, pruneSessionInterval: false, operationTimeout: 10_000 });
    stores.push(store);
    return store;
  };
  /** The password-checking server's URL, with another user, password or database. */
  const at = (change: (url: URL) => void) => {
    const url = new URL(server!.url);
    change(url);
    return url.href;
  };
  before(async () => {
    try {
      server = await startEmbeddedPostgres({ password: PASSWORD });
    } catch (error) {
      missing = skipUnlessInstalled(`no PostgreSQL server of our own: ${(error as Error).message.split('\n')[0]}`);
    }
  });
  const sqls: postgres.Sql[] = [];
  /** A store on a postgres.js `sql` of its own. */
  const postgresStoreAt = (url: string) => {
    const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
    sqls.push(sql);
    const store = new PGStore({ postgres: sql, pruneSessionInterval: false, operationTimeout: 10_000 });
    stores.push(store);
    return store;
  };
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all(sqls.map((sql) => sql.end({ timeout: 1 })));
    await server?.destroy();
  });

  it('a wrong password: says so, names user, database and address, never the password', async (t) => {
    if (missing) return t.skip(missing);
    const port = new URL(server!.url).port;
    const store = storeAt(at((url) => (url.password = 'Wr0ng-pa55')));
    await assert.rejects(store.length(), (error: any) => {
      assert.equal(
        error.message,
        `connect-pg-simple: the server refused the password (user "postgres", database "cps" at 127.0.0.1:${port}): check the password, and that the user exists`,
      );
      assert.equal(error.name, 'ConnectionError');
      assert.equal(error.code, '28P01');
      assert.match(error.cause.message, /password authentication failed for user "postgres"/);
      assert.doesNotMatch(error.message, /Wr0ng|Corr3ct/);
      return true;
    });
  });

  it('no password at all: says where it goes and how to give one', async (t) => {
    if (missing) return t.skip(missing);
    const store = storeAt(at((url) => (url.password = '')));
    await assert.rejects(store.length(), (error: any) => {
      assert.match(
        error.message,
        /^connect-pg-simple: the server asks for a password and none was given \(user "postgres", database "cps" at 127\.0\.0\.1:\d+\): put it in the connection string \(postgres:\/\/postgres:PASSWORD@host:port\/database, percent-encoded\), in conObject's "password", or in PGPASSWORD$/,
      );
      assert.equal(error.code, '28P01');
      assert.match(error.cause.message, /client password must be a string/);
      return true;
    });
  });

  it('a database that does not exist: names it, and says to create it', async (t) => {
    if (missing) return t.skip(missing);
    const store = storeAt(at((url) => (url.pathname = '/cps_no_such_db')));
    await assert.rejects(store.length(), (error: any) => {
      assert.match(
        error.message,
        /^connect-pg-simple: the database "cps_no_such_db" does not exist \(user "postgres", database "cps_no_such_db" at 127\.0\.0\.1:\d+\): create it \(createdb cps_no_such_db, or CREATE DATABASE "cps_no_such_db"\), or name another one in the connection settings$/,
      );
      assert.equal(error.code, '3D000');
      assert.doesNotMatch(error.message, /Corr3ct/);
      return true;
    });
  });

  it('the right password works', async (t) => {
    if (missing) return t.skip(missing);
    const store = new PGStore({ conString: server!.url, createTableIfMissing: true, pruneSessionInterval: false });
    stores.push(store);
    assert.equal(await store.length(), 0);
  });

  it('a user that does not exist (a server that trusts): names the user, says to create it', async () => {
    const url = new URL(databaseUrl());
    url.username = 'cps_no_such_role';
    url.password = '';
    const store = storeAt(url.href);
    await assert.rejects(store.length(), (error: any) => {
      // A server that checks passwords says only that the password failed, whoever asks.
      assert.match(
        error.message,
        /^connect-pg-simple: (the user "cps_no_such_role" does not exist \(user "cps_no_such_role", database "[^"]+" at [^)]+\): connect as a user that exists \(the user name in the connection settings\), or create it: CREATE ROLE "cps_no_such_role" LOGIN PASSWORD '...'|the server (refused the password|asks for a password and none was given) \(user "cps_no_such_role")/,
      );
      return true;
    });
  });

  it('postgres.js: a wrong password, no password, a missing database, each explained the same way', async (t) => {
    if (missing) return t.skip(missing);
    const port = new URL(server!.url).port;
    await assert.rejects(postgresStoreAt(at((url) => (url.password = 'Wr0ng-pa55'))).length(), (error: any) => {
      assert.equal(
        error.message,
        `connect-pg-simple: the server refused the password (user "postgres", database "cps" at 127.0.0.1:${port}): check the password, and that the user exists`,
      );
      assert.equal(error.name, 'ConnectionError');
      assert.equal(error.code, '28P01');
      assert.match(error.cause.message, /password authentication failed for user "postgres"/);
      assert.doesNotMatch(error.message, /Wr0ng|Corr3ct/);
      return true;
    });
    await assert.rejects(postgresStoreAt(at((url) => (url.password = ''))).length(), (error: any) => {
      assert.equal(
        error.message,
        `connect-pg-simple: the server asks for a password and none was given (user "postgres", database "cps" at 127.0.0.1:${port}): put it in the connection string (postgres://postgres:PASSWORD@host:port/database, percent-encoded), in conObject's "password", or in PGPASSWORD`,
      );
      assert.equal(error.code, '28P01');
      return true;
    });
    await assert.rejects(postgresStoreAt(at((url) => (url.pathname = '/cps_no_such_db'))).length(), (error: any) => {
      assert.equal(
        error.message,
        `connect-pg-simple: the database "cps_no_such_db" does not exist (user "postgres", database "cps_no_such_db" at 127.0.0.1:${port}): create it (createdb cps_no_such_db, or CREATE DATABASE "cps_no_such_db"), or name another one in the connection settings`,
      );
      assert.equal(error.code, '3D000');
      assert.doesNotMatch(error.message, /Corr3ct/);
      return true;
    });
    assert.equal(await postgresStoreAt(server!.url).length(), 0, 'the right password works');
  });

  it('postgres.js: a user that does not exist, and a port with nothing listening', async () => {
    const url = new URL(databaseUrl());
    url.username = 'cps_no_such_role';
    url.password = '';
    await assert.rejects(postgresStoreAt(url.href).length(), (error: any) => {
      assert.match(
        error.message,
        /^connect-pg-simple: (the user "cps_no_such_role" does not exist \(user "cps_no_such_role", database "[^"]+" at [^)]+\): connect as a user that exists \(the user name in the connection settings\), or create it: CREATE ROLE "cps_no_such_role" LOGIN PASSWORD '...'|the server (refused the password|asks for a password and none was given) \(user "cps_no_such_role")/,
      );
      assert.equal(error.name, 'ConnectionError');
      return true;
    });
    const port = await closedPort();
    await assert.rejects(
      postgresStoreAt(`postgres://nobody:Sup3rS3cret@127.0.0.1:${port}/db`).length(),
      (error: any) => {
        assert.match(
          error.message,
          new RegExp(
            `^connect-pg-simple: could not connect to 127\\.0\\.0\\.1:${port}: connection refused \\(ECONNREFUSED\\); is PostgreSQL running there\\?$`,
          ),
        );
        assert.equal(error.code, 'ECONNREFUSED');
        assert.doesNotMatch(error.message, /Sup3r/);
        return true;
      },
    );
  });

  it('postgres.js: a server that never answers the login is a TimeoutError that names it and says what to check', async () => {
    const silent = await silentServer();
    try {
      const sql = postgres(`postgres://nobody@127.0.0.1:${silent.port}/db`, {
        max: 1,
        onnotice: () => {},
        connect_timeout: 1,
      });
      sqls.push(sql);
      const store = new PGStore({ postgres: sql, pruneSessionInterval: false, operationTimeout: 5000 });
      stores.push(store);
      await assert.rejects(store.length(), (error: any) => {
        assert.equal(error.name, 'TimeoutError');
        assert.equal(error.code, 'ETIMEDOUT');
        assert.match(
          error.message,
          new RegExp(
            `^connect-pg-simple: could not connect to 127\\.0\\.0\\.1:${silent.port} within 1000 ms: is the server up`,
          ),
        );
        assert.match(error.message, /end the sql instance and make a new one/);
        return true;
      });
    } finally {
      await silent.close();
    }
  });

  it("pg_hba.conf has no line for the connection: says so, for pg, pg-promise and postgres.js (the server's file rewritten last)", async (t) => {
    if (missing) return t.skip(missing);
    const admin = postgres(server!.url, { max: 1, onnotice: () => {} });
    try {
      // Only the user postgres may come in from now on: the server writes its own file, then reloads it.
      const [{ hba_file: hbaFile }] = await admin`SHOW hba_file`;
      await admin.unsafe(
        `COPY (SELECT 'host all postgres 127.0.0.1/32 scram-sha-256') TO '${hbaFile.replaceAll("'", "''")}'`,
      );
      await admin`SELECT pg_reload_conf()`;
    } finally {
      await admin.end({ timeout: 1 });
    }
    const port = new URL(server!.url).port;
    const intruder = at((url) => (url.username = 'cps_hba_nobody'));
    const expected = `connect-pg-simple: the server's pg_hba.conf has no line that lets this connection in (user "cps_hba_nobody", database "cps" at 127.0.0.1:${port}, from this machine's address): add one for this user, database and address to pg_hba.conf on the server and reload it (SELECT pg_reload_conf()), or connect as a user and to a database it lets in (if its lines for this server are "hostssl", connect with SSL: sslmode=require)`;
    const refusedByHba = (error: any) => {
      assert.equal(error.message, expected);
      assert.equal(error.name, 'ConnectionError');
      assert.equal(error.code, '28000');
      assert.match(error.cause.message, /no pg_hba\.conf entry/);
      assert.doesNotMatch(error.message, /Corr3ct/);
      return true;
    };
    // The reload takes effect once the server has read the file again (before, the unknown user's password fails: 28P01).
    let refusal: any;
    const reloaded = await eventually(async () => {
      refusal = await storeAt(intruder)
        .length()
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      return refusal?.code === '28000';
    }, 5000);
    assert.ok(reloaded, `the server read its pg_hba.conf again: ${refusal?.message}`);
    refusedByHba(refusal);
    await assert.rejects(postgresStoreAt(intruder).length(), refusedByHba);
    const pgp = pgPromise();
    try {
      const store = new PGStore({ pgPromise: pgp(intruder), pruneSessionInterval: false });
      stores.push(store);
      await assert.rejects(store.length(), refusedByHba);
    } finally {
      pgp.end();
    }
  });

  it('no connection settings at all: says what pg tried, and to set DATABASE_URL', async () => {
    // A process of its own: pg takes its defaults (the OS user) from the environment it starts with.
    const script = `
      const { PGStore } = require(${JSON.stringify(resolve(__dirname, '../dist/index.js'))});
      const store = new PGStore({ pruneSessionInterval: false, operationTimeout: 5000 });
      store.length().then(() => console.log('connected'), (e) => console.log(e.message)).finally(() => store.close());`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
      env: { PATH: process.env.PATH, USER: 'cps_no_such_os_user', HOME: '/nonexistent' },
    });
    // Whether a server listens on localhost:5432 or not, the way out is the same.
    assert.match(
      stdout,
      /(the user "cps_no_such_os_user" does not exist \(user "cps_no_such_os_user", database "cps_no_such_os_user" at localhost:5432\)|the server (refused the password|asks for a password)|could not connect to localhost:5432).*[:;] no connection settings were given, so pg used its defaults \(localhost, your operating system user name, and a database of that name\): name it with a connection string, postgres:\/\/user@host:port\/database \(the password after the user name, user:password@, when the server asks for one\): in DATABASE_URL for a store or CLI that connects by itself, else in the pool's connectionString\n$/,
    );
  });
});

describe('connection errors, without a database', () => {
  it('finds the connection strings that cannot work, and only those', () => {
    assert.match(connectionStringProblem('postgres://u:se#cret@h/db')!, /holds a "#": percent-encode it/);
    assert.match(connectionStringProblem('postgres://u:a:b/c@h:x/db')!, /not a valid URL/);
    for (const fine of [
      'postgres://u:p@ss@h/db',
      'postgres://u:p%23ss@h:5432/db?sslmode=disable',
      'postgresql://h/db',
      'postgres://u@/db',
      '/var/run/postgresql db',
      'host=h dbname=x',
      'postgres://h/db?options=-c%20search_path%3Dapp',
    ]) {
      assert.equal(connectionStringProblem(fine), undefined, fine);
    }
  });

  it('explains the errors it knows, keeping cause and code, and passes on all others as they were', () => {
    const client = new pg.Client({
      connectionString: 'postgres://u@db.example.com:6543/x',
      connectionTimeoutMillis: 250,
    });
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const explained = explainConnectionError(refused, client) as any;
    assert.match(
      explained.message,
      /^connect-pg-simple: could not connect to db\.example\.com:6543: connection refused/,
    );
    assert.equal(explained.cause, refused);
    assert.equal(explained.code, 'ECONNREFUSED');
    assert.equal(explainConnectionError(explained, client), explained, 'explained once');
    const timedOut = explainConnectionError(new Error('timeout expired'), client) as any;
    assert.equal(timedOut.name, 'TimeoutError');
    assert.equal(timedOut.code, 'ETIMEDOUT');
    assert.match(timedOut.message, /could not connect to db\.example\.com:6543 within 250 ms/);
    const other = Object.assign(new Error('relation does not exist'), { code: '42P01' });
    assert.equal(explainConnectionError(other, client), other);
    const pool = new pg.Pool({ connectionString: 'postgres://u:12/34@db.example.com/x' });
    const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND u'), { code: 'ENOTFOUND' });
    assert.match(
      (explainConnectionError(notFound, pool) as Error).message,
      /could not find the host "u" \(ENOTFOUND\): the connection string seems cut short/,
    );
    const plain = new pg.Pool({ connectionString: 'postgres://u@no-such-host.example/x' });
    assert.match((explainConnectionError(notFound, plain) as Error).message, /: check the host name$/);
    // pg-pool's own wait for a free connection, out of its connectionTimeoutMillis.
    const waiting = new pg.Pool({
      connectionString: 'postgres://u@db.example.com:6543/x',
      connectionTimeoutMillis: 400,
    });
    const poolWait = new Error('timeout exceeded when trying to connect');
    const noneFree = explainConnectionError(poolWait, waiting) as any;
    assert.equal(noneFree.name, 'TimeoutError');
    assert.equal(noneFree.code, 'ETIMEDOUT');
    assert.match(
      noneFree.message,
      /^connect-pg-simple: no connection of the pool was free within 400 ms: the server did not answer, or all of the pool's connections stayed busy \(raise "max", or look for connections never released\)$/,
    );
    assert.equal(noneFree.cause, poolWait);
    assert.equal(explainConnectionError(noneFree, waiting), noneFree, 'explained once');
    const untimed = explainConnectionError(poolWait, plain) as any;
    assert.match(untimed.message, /^connect-pg-simple: no connection of the pool was free: the server did not answer/);
    assert.equal(untimed.cause, poolWait);
  });

  it('an operation out of time waiting for a pg pool: says the server did not answer only when no one queued before it', () => {
    const expired = () => new OperationTimeoutError('get()', 300);
    const idle = new pg.Pool({ connectionString: 'postgres://u@db.example.com:6543/x' });
    assert.equal(idle.waitingCount, 0);
    const first = expired();
    const explained = explainWaitForConnection(first, idle);
    assert.notEqual(explained, first);
    assert.ok(explained instanceof OperationTimeoutError);
    assert.equal(explained.name, 'TimeoutError');
    assert.equal(explained.code, 'ETIMEDOUT');
    assert.equal(explained.what, 'get()');
    assert.equal(explained.timeoutMs, 300);
    assert.equal(
      explained.message,
      'connect-pg-simple: get() took longer than operationTimeout (300 ms): could not connect to db.example.com:6543 in that time; is the server up, and is that its address?',
    );
    // Queued behind busy connections: the wait says nothing of the server, so the plain timeout stays.
    const busy = new pg.Pool({ connectionString: 'postgres://u@db.example.com:6543/x' });
    Object.defineProperty(busy, 'waitingCount', { value: 2 });
    assert.equal(busy.waitingCount, 2);
    const queued = expired();
    assert.equal(explainWaitForConnection(queued, busy), queued, 'the same error, unexplained');
    assert.equal(queued.message, 'connect-pg-simple: get() took longer than operationTimeout (300 ms)');
    // Anything that is not a pg pool has no waitingCount: the plain timeout too.
    const other = expired();
    assert.equal(explainWaitForConnection(other, {}), other);
  });
});
