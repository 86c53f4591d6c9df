import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import connectPgSimple from '../src/index.js';
import { databaseUrl, eventually, holdTableLock, uniqueName } from './support/database.js';
import { useSchemaStores } from './support/driver-stores.js';
import { closedPort } from './support/servers.js';
import { inSeconds } from './support/sessions.js';

const { PGStore, PGStoreError, SchemaError, StoreClosedError, OperationTimeoutError, ConnectionError } =
  connectPgSimple;
const { CorruptSessionError, DecryptionError } = connectPgSimple;

const root = resolve(__dirname, '..');
const page = readFileSync(join(root, 'docs/errors.md'), 'utf8');

/** Every code in the first column of docs/errors.md's table. */
const documentedCodes = new Set(
  [...page.matchAll(/^\| ((?:`[^`]+`(?:, )?)+) \|/gm)].flatMap((m) =>
    [...m[1]!.matchAll(/`([^`]+)`/g)].map((c) => c[1]!),
  ),
);

/** A failure is what docs/errors.md says: its class (by the exported class) and a documented code. */
function fails(expectedClass: abstract new (...args: any[]) => Error, code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof expectedClass, `${String(error)} is a ${expectedClass.name}`);
    assert.equal((error as { code?: unknown }).code, code);
    assert.ok(documentedCodes.has(code), `docs/errors.md lists ${code}`);
    return true;
  };
}

describe('errors carry the codes docs/errors.md lists', () => {
  const { admin, newStore, table } = useSchemaStores('cps_errors');
  const logged: unknown[] = [];
  const errorLog = (_message: unknown, error: unknown) => logged.push(error);

  it('lists every code the source raises, and the classes are PGStoreErrors', () => {
    const source = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? source(join(dir, entry.name)) : [readFileSync(join(dir, entry.name), 'utf8')],
      );
    const raised = new Set(
      source(join(root, 'src'))
        .join('\n')
        .match(/'ERR_[A-Z_]+'/g)!
        .map((quoted) => quoted.slice(1, -1))
        .filter((code) => !code.startsWith('ERR_CLI_')),
    );
    assert.ok(raised.size >= 15, `found the codes (${[...raised].join(', ')})`);
    for (const code of raised) assert.ok(documentedCodes.has(code), `docs/errors.md lists ${code}`);
    for (const documented of documentedCodes) {
      if (documented.startsWith('ERR_')) assert.ok(raised.has(documented), `${documented} is raised somewhere`);
    }
    for (const errorClass of [StoreClosedError, OperationTimeoutError, ConnectionError, SchemaError]) {
      assert.ok(errorClass.prototype instanceof PGStoreError, errorClass.name);
    }
    for (const errorClass of [CorruptSessionError, DecryptionError]) {
      assert.ok(errorClass.prototype instanceof PGStoreError, errorClass.name);
    }
  });

  it('a missing table: SchemaError 42P01', async () => {
    const store = newStore({ conString: databaseUrl(), tableName: uniqueName('absent'), createTableIfMissing: false });
    await assert.rejects(store.get('s'), fails(SchemaError, '42P01'));
  });

  it('a table that is not a session table: SchemaError 42703 (a column missing) and 42804 (another type)', async () => {
    const missing = uniqueName('nosess');
    const retyped = uniqueName('intsess');
    await admin.query(`CREATE TABLE ${table(missing)} (sid text PRIMARY KEY, expire timestamptz)`);
    await admin.query(`CREATE TABLE ${table(retyped)} (sid text PRIMARY KEY, sess integer, expire timestamptz)`);
    await assert.rejects(
      newStore({ conString: databaseUrl(), tableName: missing }).get('s'),
      fails(SchemaError, '42703'),
    );
    await assert.rejects(
      newStore({ conString: databaseUrl(), tableName: retyped }).get('s'),
      fails(SchemaError, '42804'),
    );
  });

  it('a table newer than this package: SchemaError 0A000', async () => {
    const name = uniqueName('future');
    await newStore({ conString: databaseUrl(), tableName: name }).length();
    await admin.query(`COMMENT ON TABLE ${table(name)} IS 'connect-pg-simple schema 99'`);
    await assert.rejects(newStore({ conString: databaseUrl(), tableName: name }).get('s'), fails(SchemaError, '0A000'));
  });

  it('a store used after close(): StoreClosedError ERR_STORE_CLOSED', async () => {
    const store = newStore({ conString: databaseUrl() });
    await store.close();
    await assert.rejects(store.get('s'), fails(StoreClosedError, 'ERR_STORE_CLOSED'));
  });

  it('an operation out of time: OperationTimeoutError ETIMEDOUT, named TimeoutError', async () => {
    const name = uniqueName('slow');
    const store = newStore({ conString: databaseUrl(), tableName: name, operationTimeout: 1000 });
    await store.set('s', inSeconds(600) as any);
    const lock = await holdTableLock(table(name));
    try {
      await assert.rejects(
        store.get('s'),
        (error: any) => fails(OperationTimeoutError, 'ETIMEDOUT')(error) && error.name === 'TimeoutError',
      );
      assert.ok(await eventually(async () => (await lock.waiting()) === 0, 3000), 'cancelled on the server');
    } finally {
      await lock.release();
    }
  });

  it('nothing listening at the address: ConnectionError ECONNREFUSED', async () => {
    const port = await closedPort();
    const store = newStore({ conString: `postgres://nobody@127.0.0.1:${port}/none` });
    await assert.rejects(store.get('s'), fails(ConnectionError, 'ECONNREFUSED'));
  });

  it('a corrupt row and one that does not decrypt read as missing, and errorLog gets ERR_CORRUPT_SESSION and ERR_DECRYPTION', async () => {
    const name = uniqueName('unreadable');
    const key = Buffer.alloc(32, 7);
    const keyed = newStore({ conString: databaseUrl(), tableName: name, encryptionKeys: [key], hashSessionIds: false });
    await keyed.set('encrypted', inSeconds(600) as any);
    const plain = newStore({ conString: databaseUrl(), tableName: name, hashSessionIds: false, errorLog });
    await plain.set('corrupt', inSeconds(600) as any);
    await admin.query(`UPDATE ${table(name)} SET sess = '[1, 2]' WHERE sid = 'corrupt'`);
    logged.length = 0;
    assert.equal(await plain.get('corrupt'), null);
    assert.equal(await plain.get('encrypted'), null);
    assert.equal(logged.length, 2);
    fails(CorruptSessionError, 'ERR_CORRUPT_SESSION')(logged[0]);
    fails(DecryptionError, 'ERR_DECRYPTION')(logged[1]);
  });

  it('mistakes are TypeErrors (RangeErrors for a size) with a code: options, arguments, sessions, returned values', async () => {
    const pool = { query: async () => ({ rows: [] }) };
    assert.throws(() => new PGStore({ pool, ttl: -1 }), fails(TypeError, 'ERR_INVALID_OPTION'));
    assert.throws(() => new PGStore({ pool, tableNmae: 'x' } as any), fails(TypeError, 'ERR_INVALID_OPTION'));
    const store = newStore({ conString: databaseUrl(), maxSessionSize: 1000 });
    await assert.rejects(store.get(''), fails(TypeError, 'ERR_INVALID_ARG'));
    await assert.rejects(store.set('s', [] as any), fails(TypeError, 'ERR_INVALID_SESSION'));
    await assert.rejects(
      store.set('s', { ...inSeconds(600), big: 'x'.repeat(2000) } as any),
      fails(RangeError, 'ERR_SESSION_TOO_LARGE'),
    );
    const badTtl = newStore({ conString: databaseUrl(), ttl: (() => 'a day') as any });
    await assert.rejects(badTtl.set('s', inSeconds(600) as any), fails(TypeError, 'ERR_INVALID_RETURN_VALUE'));
    assert.equal(await store.length(), 0, 'nothing was stored');
  });
});
