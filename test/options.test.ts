import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import session from 'express-session';
import pg from 'pg';
import connectPgSimple, { PGStore } from '../src/index.js';
import { DEFAULTS, resolveOptions } from '../src/options.js';
import { databaseUrl } from './support/database.js';

const rejects = (options: unknown, pattern: RegExp) =>
  assert.throws(
    () => new PGStore(options as any),
    (error: Error) => error instanceof TypeError && pattern.test(error.message),
  );

describe('options are checked at construction', () => {
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });

  it('names an unknown option, with a hint for a near miss', () => {
    rejects({ pgNativePool: pool }, /unknown option "pgNativePool" \(did you mean "pool"\?\)/);
    rejects({ pool, tablename: 'x' }, /unknown option "tablename" \(did you mean "tableName"\?\)/);
    rejects({ pool, colour: 'blue' }, /unknown option "colour"$/);
  });

  it('names an option of the wrong type or an impossible value', () => {
    rejects({ pool: 'postgres://x' }, /"pool" must be a pg.Pool/);
    rejects({ pgPromise: {} }, /"pgPromise" must be a pg-promise database/);
    // A pool passed as pgPromise, or an object with pg-promise's query methods and no connect().
    rejects({ pgPromise: pool }, /"pgPromise" must be a pg-promise database/);
    rejects({ pgPromise: { any: async () => [] } }, /"pgPromise" must be a pg-promise database/);
    rejects({ postgres: pool }, /"postgres" must be a postgres.js sql instance/);
    rejects({ pglite: pool }, /"pglite" must be a PGlite instance/);
    rejects(
      { pglite: { query() {}, exec() {} }, readPool: pool },
      /option "readPool" needs a PostgreSQL server with replicas; PGlite has none/,
    );
    rejects({ pool, ttl: '1d' }, /"ttl" must be a number > 0, got "1d"/);
    rejects({ pool, ttl: -5 }, /"ttl"/);
    rejects({ pool, ttl: Number.NaN }, /"ttl"/);
    rejects({ pool, tableName: '' }, /"tableName" must be a non-empty string/);
    rejects({ pool, tableName: 'a\u0000b' }, /"tableName" must be a string without NUL/);
    rejects({ pool, schemaName: 42 }, /"schemaName"/);
    rejects({ pool, pruneSessionInterval: 0 }, /"pruneSessionInterval" must be a number > 0/);
    rejects({ pool, pruneSessionInterval: true }, /"pruneSessionInterval"/);
    rejects({ pool, pruneSessionRandomizedInterval: true }, /"pruneSessionRandomizedInterval"/);
    rejects({ pool, pruneBatchSize: 1.5 }, /"pruneBatchSize" must be a whole number/);
    rejects({ pool, createTableIfMissing: 'yes' }, /"createTableIfMissing" must be a boolean/);
    rejects({ pool, disableTouch: 1 }, /"disableTouch" must be a boolean/);
    rejects({ pool, touchAfter: -1 }, /"touchAfter"/);
    rejects({ pool, errorLog: 'console' }, /"errorLog" must be a function/);
    rejects({ pool, conObject: 'postgres://x' }, /"conObject"/);
    rejects({ pool, maxSessionSize: 0 }, /"maxSessionSize"/);
    rejects(
      { pool, readCache: 'yes' },
      /"readCache" must be true, a number of milliseconds from 0 to 300000, or false/,
    );
    rejects(
      { pool, readPool: new pg.Pool(), readCache: true },
      /"readCache: true" cannot be used with "readPool" \(a replica may answer with a session older than a change already seen in the change log\)/,
    );
    rejects({ pool, readCache: -1 }, /"readCache"/);
    rejects({ pool, readCache: 300_001 }, /"readCache"/);
    rejects({ pool, readCache: '1s' }, /"readCache"/);
    rejects({ conString: 'postgres://x', pipeline: 'yes' }, /"pipeline" must be a boolean/);
    rejects(
      { pool, pipeline: true },
      /option "pipeline" works only with a database the store connects to itself .*not with "pool"/,
    );
    rejects('postgres://x', /options must be an object/);
  });

  it('suggests the option meant: by spelling, or by the name other libraries use', () => {
    rejects(
      { pool, createTableIfMising: true },
      /unknown option "createTableIfMising" \(did you mean "createTableIfMissing"\?\)$/,
    );
    rejects({ pool, pruneSesionInterval: 60 }, /\(did you mean "pruneSessionInterval"\?\)$/);
    rejects({ pool, tabelName: 'x' }, /\(did you mean "tableName"\?\)$/);
    rejects(
      { connectionString: 'postgres://x' },
      /unknown option "connectionString" \(did you mean "conString"\?\): a connection string/,
    );
    rejects({ url: 'postgres://x' }, /\(did you mean "conString"\?\)/);
    rejects({ databaseUrl: 'postgres://x' }, /\(did you mean "conString"\?\)/);
    rejects(
      { pool, maxAge: 60_000 },
      /unknown option "maxAge" \(did you mean "ttl"\?\): ttl is in seconds; by default the store uses the session cookie's maxAge/,
    );
    rejects({ pool, pruneInterval: 60 }, /\(did you mean "pruneSessionInterval"\?\)/);
    rejects({ pool, prune: false }, /\(did you mean "pruneSessionInterval"\?\)/);
    rejects({ client: pool }, /unknown option "client" \(did you mean "pool"\?\): a pg.Pool, a connected pg.Client/);
    rejects({ pgPool: pool }, /\(did you mean "pool"\?\)/);
    rejects({ pool, schema: 'app' }, /\(did you mean "schemaName"\?\)$/);
    rejects({ pool, table: 'sessions' }, /\(did you mean "tableName"\?\)$/);
    rejects({ pool, x: 1 }, /unknown option "x"$/);
  });

  it('never prints a connection string given where a driver object belongs, and says where it goes', () => {
    const url = 'postgres://someone:Sup3rS3cret@db.example.com/app';
    for (const option of ['pool', 'pgPromise', 'postgres', 'pglite', 'conObject']) {
      assert.throws(
        () => new PGStore({ [option]: url } as any),
        (error: Error) => {
          assert.ok(error instanceof TypeError);
          assert.match(
            error.message,
            new RegExp(
              `option "${option}" must be .*, got a string \\(a connection string\\? give it as "conString"\\)$`,
            ),
          );
          assert.doesNotMatch(error.message, /Sup3r|someone|db\.example/);
          return true;
        },
      );
    }
    assert.throws(
      () => new PGStore({ pool, tableName: 42, ttl: url } as any),
      (error: Error) => !error.message.includes('Sup3r'),
    );
  });

  it('refuses a database object together with conString or conObject, saying which one would be used', () => {
    rejects(
      { pool, conString: 'postgres://x' },
      /options "pool" and "conString" both say which database to use, and only "pool" would be used .*: give one of them/,
    );
    rejects({ pool, conObject: { host: 'x' } }, /options "pool" and "conObject" both/);
    rejects(
      { postgres: Object.assign(() => {}, { unsafe() {} }), conString: 'postgres://x' },
      /"postgres" and "conString"/,
    );
  });

  it('refuses a ttl in milliseconds, and timer values Node cannot wait', () => {
    rejects(
      { pool, ttl: 86_400_000 },
      /option "ttl" is in seconds: 86400000 seconds is 1,000 days, .*divide by 1000 \(ttl: 86400\)/,
    );
    assert.ok(new PGStore({ pool, ttl: 400 * 86_400, pruneSessionInterval: false }));
    rejects(
      { pool, pruneSessionInterval: 2 ** 31 },
      /"pruneSessionInterval" must be a number > 0 and at most 2147483 \(seconds/,
    );
    assert.ok(new PGStore({ pool, pruneSessionInterval: 2_147_483 }).close());
    rejects({ pool, pruneBatchSize: 2 ** 31 }, /"pruneBatchSize" must be a whole number from 1 to 2147483647/);
    assert.ok(new PGStore({ pool, pruneBatchSize: 2 ** 31 - 1, pruneSessionInterval: false }));
  });

  it('warns of a ttl that looks like milliseconds, and of none of the lifetimes people mean', async () => {
    const warnings: Error[] = [];
    const listener = (warning: Error) => warnings.push(warning);
    process.on('warning', listener);
    try {
      const made = (options: Record<string, unknown>) =>
        new PGStore({ pool, pruneSessionInterval: false, ...options }).close();
      await made({ ttl: 3_600_000 }); // an hour in milliseconds: 41.7 days
      await made({ absoluteTimeout: 1_800_000 }); // half an hour in milliseconds
      for (const ttl of [3600, 86_400, 2_592_000, 604_800, 8_640_000, 400 * 86_400, 90_000, 1_000_000]) {
        await made({ ttl });
      }
      await new Promise((settle) => setImmediate(settle)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', listener);
    }
    const ours = warnings.filter((w) => (w as any).code === 'CPS_TTL_IN_MILLISECONDS');
    assert.deepEqual(
      ours.map((w) => [w.name, w.message]),
      [
        [
          'connect-pg-simple',
          'option "ttl" is in seconds: 3600000 seconds is 41.7 days; if 3600000 was meant as milliseconds (60 minutes), give ttl: 3600',
        ],
        [
          'connect-pg-simple',
          'option "absoluteTimeout" is in seconds: 1800000 seconds is 20.8 days; if 1800000 was meant as milliseconds (30 minutes), give absoluteTimeout: 1800',
        ],
      ],
    );
  });

  it('refuses two databases at once, and the 10.x schema-in-tableName form', () => {
    rejects({ pool, pglite: { query() {}, exec() {} } }, /"pool" and "pglite" each name a database/);
    rejects({ pool, tableName: 'myschema"."sessions' }, /put the schema in "schemaName"/);
  });

  it('refuses a dot in tableName, suggesting schemaName; with schemaName given, a dotted name is taken as it is', () => {
    rejects(
      { pool, tableName: 'myschema.sessions' },
      /option "tableName" must be a table name only, got "myschema\.sessions".*Use schemaName: "myschema", tableName: "sessions"/,
    );
    const literal = new PGStore({ pool, tableName: 'my.sessions', schemaName: 'public', pruneSessionInterval: false });
    void literal.close();
  });

  it('refuses names longer than PostgreSQL keeps (63 bytes), which it would cut short', () => {
    rejects(
      { pool, tableName: 'x'.repeat(64) },
      /tableName is 64 bytes long in UTF-8, more than PostgreSQL's limit of 63/,
    );
    rejects({ pool, schemaName: 'é'.repeat(32) }, /schemaName is 64 bytes long/);
    const longest = new PGStore({ pool, tableName: 'x'.repeat(63), schemaName: 'é'.repeat(31) });
    void longest.close();
  });

  it('resolves every default from the one option table, without a database', () => {
    const queryable = { query: async () => [] };
    const { driver, pruneDelay, errorLog, userIdOf, ...resolved } = resolveOptions({ pool: queryable }, {});
    assert.deepEqual(driver, { kind: 'pool', pool: queryable });
    assert.deepEqual(resolved, {
      readDriver: undefined,
      ttl: undefined,
      schemaName: undefined,
      tableName: 'session',
      createTableIfMissing: false,
      disableTouch: false,
      touchAfterSeconds: 60,
      pruneIntervalMs: 60_000,
      pruneBatchSize: 1000,
      pruneLock: true,
      preparedStatements: undefined,
      synchronousCommit: true,
      operationTimeoutMs: 10_000,
      maxSessionSize: undefined,
      readCacheMs: false,
      readCacheListens: true,
      readCacheAsked: false,
      pipeline: undefined,
      idForm: 'sha256',
      sessionIdPepper: undefined,
      absoluteTimeoutSeconds: undefined,
      encryptionKeys: undefined,
      describe: undefined,
      partitioning: undefined,
      connectionEvents: true,
    });
    assert.equal(userIdOf({ userId: 7, passport: { user: 'p' } }), '7');
    assert.equal(userIdOf({ passport: { user: 'p' } }), 'p');
    assert.equal(userIdOf({ passport: { user: { id: 1 } } }), null);
    assert.equal(userIdOf({}), null);
    for (let i = 0; i < 20; i++) {
      const delay = pruneDelay(1000);
      assert.ok(delay >= 500 && delay <= 1500, `jittered 50–150 %: ${delay}`);
    }
    assert.deepEqual(DEFAULTS, {
      tableName: 'session',
      ttlSeconds: 86_400,
      pruneIntervalSeconds: 60,
      touchAfterSeconds: 60,
      pruneBatchSize: 1000,
      operationTimeoutMs: 10_000,
    });
    const saved = console.error;
    const logged: unknown[][] = [];
    console.error = (...args: unknown[]) => logged.push(args);
    try {
      errorLog('late', 1);
    } finally {
      console.error = saved;
    }
    assert.deepEqual(logged, [['late', 1]], 'the default errorLog is console.error, looked up when called');

    const owned = resolveOptions(
      {
        touchAfter: false,
        operationTimeout: 0,
        readCache: 0,
        pruneSessionInterval: false,
        pruneSessionRandomizedInterval: false,
      },
      { DATABASE_URL: 'postgres://localhost/db' },
    );
    assert.deepEqual(owned.driver, { kind: 'owned', config: { connectionString: 'postgres://localhost/db' } });
    assert.equal(owned.touchAfterSeconds, 0);
    assert.equal(owned.operationTimeoutMs, false);
    assert.equal(owned.readCacheMs, false);
    assert.equal(owned.readCacheListens, false);
    const listening = resolveOptions({ pool, readCache: true });
    assert.deepEqual(
      [listening.readCacheMs, listening.readCacheListens, listening.readCacheAsked],
      [false, true, true],
    );
    const beside = resolveOptions({ pool, readPool: new pg.Pool() });
    assert.equal(beside.readCacheListens, false, 'not given, the trusted cache stays off beside readPool');
    assert.equal(owned.pruneIntervalMs, false);
    assert.equal(owned.pruneDelay(1234), 1234);
    assert.deepEqual(resolveOptions({ conObject: { host: 'h' }, conString: 'postgres://x' }, {}).driver, {
      kind: 'owned',
      config: { host: 'h' },
    });
  });

  it('needs express-session (or Connect) for the factory', () => {
    assert.throws(() => connectPgSimple({} as any), /pass express-session/);
    assert.equal(connectPgSimple(session), connectPgSimple(session), 'one class per Store base');
    const Connect3Style = connectPgSimple({ session } as any);
    assert.ok(new Connect3Style({ pool }) instanceof session.Store);
  });

  it('falls back to DATABASE_URL when no database is named', async () => {
    const saved = process.env.DATABASE_URL;
    const url = new URL(databaseUrl());
    url.pathname = '/cps_no_such_database';
    process.env.DATABASE_URL = url.toString();
    const store = new PGStore({ pruneSessionInterval: false });
    process.env.DATABASE_URL = saved;
    try {
      await assert.rejects(
        () => store.length(),
        (error: any) => error.code === '3D000',
      );
    } finally {
      await store.close();
      await pool.end();
    }
  });
});
