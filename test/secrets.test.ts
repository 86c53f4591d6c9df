import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import connectPgSimple from '../src/index.js';

/** A connection string's password never appears in an error or an errorLog line of the store. */
const { PGStore } = connectPgSimple;
const PASSWORD = 'S3cretPassw0rd';

/** Everything a user might print: message, stack, own properties, causes. */
const printed = (value: unknown) => `${inspect(value, { depth: 10, showHidden: true })}\n${String(value)}`;

function assertNoPassword(label: string, values: unknown[]) {
  for (const value of values) {
    const text = printed(value);
    assert.ok(!text.includes(PASSWORD), `${label} shows the password:\n${text}`);
    assert.ok(!text.includes(encodeURIComponent(PASSWORD)), label);
  }
}

async function failingCall(store: InstanceType<typeof PGStore>): Promise<Error> {
  const error = await new Promise<unknown>((resolve) => store.get('sid', (e: unknown) => resolve(e)));
  assert.ok(error instanceof Error, 'the callback got an error');
  return error;
}

describe('secrets', () => {
  it('an unreachable server (owned pool from conString): no password in the error or errorLog', async () => {
    const logged: unknown[][] = [];
    const store = new PGStore({
      conString: `postgres://user:${PASSWORD}@127.0.0.1:1/db`,
      pruneSessionInterval: 0.05,
      pruneSessionRandomizedInterval: false,
      errorLog: (...args: unknown[]) => logged.push(args),
    });
    const error = await failingCall(store);
    assert.match(error.message, /ECONNREFUSED/);
    await new Promise((r) => setTimeout(r, 200));
    await store.close();
    assert.ok(logged.length > 0, 'the failed prunes were logged');
    assertNoPassword('error', [error, error.stack]);
    assertNoPassword('errorLog', logged);
  });

  it('a server that never answers (timeout), and a conObject: no password either', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const logged: unknown[][] = [];
      const errorLog = (...args: unknown[]) => logged.push(args);
      const byString = new PGStore({
        conString: `postgres://user:${PASSWORD}@127.0.0.1:${port}/db`,
        operationTimeout: 100,
        errorLog,
      });
      const byObject = new PGStore({
        conObject: { host: '127.0.0.1', port: 1, user: 'user', password: PASSWORD, database: 'db' },
        errorLog,
      });
      const errors = [await failingCall(byString), await failingCall(byObject)];
      assert.equal((errors[0] as any).code, 'ETIMEDOUT');
      await Promise.all([byString.close(), byObject.close()]);
      assertNoPassword('error', errors);
      assertNoPassword('errorLog', logged);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('a malformed connection string: no password in the error', async () => {
    for (const conString of [
      `postgres://user:${PASSWORD}@127.0.0.1:notaport/db`,
      `postgres://user:${PASSWORD}@[::1/db`,
    ]) {
      const logged: unknown[][] = [];
      let error: unknown;
      try {
        // Refused at construction when it cannot be read as a URL, else failing on the first call.
        const store = new PGStore({ conString, errorLog: (...args: unknown[]) => logged.push(args) });
        error = await failingCall(store);
        await store.close();
      } catch (refused) {
        assert.match(String((refused as Error).message), /option "conString" cannot be used: .*not a valid URL/);
        error = refused;
      }
      assertNoPassword(`error for ${conString.replace(PASSWORD, '***')}`, [error]);
      assertNoPassword('errorLog', logged);
    }
  });

  it('a rejected conString option: the error names the option, never its content', () => {
    for (const conString of [`postgres://user:${PASSWORD}@host/db\u0000`, ['postgres', PASSWORD]]) {
      assert.throws(
        () => new PGStore({ conString: conString as any }),
        (error: Error) => {
          assert.match(error.message, /option "conString"/);
          assertNoPassword('option error', [error]);
          return true;
        },
      );
    }
    assert.throws(
      () => new PGStore({ conObject: [PASSWORD] as any }),
      (error: Error) => /option "conObject"/.test(error.message) && !printed(error).includes(PASSWORD),
    );
  });
});
