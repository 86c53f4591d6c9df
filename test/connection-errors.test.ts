import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import pgPromise from 'pg-promise';
import {
  connectionStringProblem,
  explainConnectionError,
  explainWaitForConnection,
} from '../src/drivers/connection-errors.js';
import { OperationTimeoutError } from '../src/errors.js';
import { PGStore } from '../src/index.js';
import { databaseUrl } from './support/database.js';
import { useSchemaStores } from './support/driver-stores.js';
import { closedPort, silentServer } from './support/servers.js';

/** The connection phase's mistakes: each fails soon, says what to do, and keeps the driver's error as its cause. */
describe('connection errors say what to do', () => {
  const { admin, newStore } = useSchemaStores('cps_connect');

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
