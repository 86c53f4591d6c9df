import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PollingUnusable, reopeningConnection } from '../src/drivers/polling.js';

type Rows = readonly Record<string, unknown>[];

/** A driver whose connections answer the process-id query with `serverPid`, and say they were given `given`. */
function fakeDriver(serverPid: number, given: number | null | undefined) {
  const opened: number[] = [];
  const ended: number[] = [];
  let failNext = false;
  return {
    opened,
    ended,
    failNextQuery: () => {
      failNext = true;
    },
    driver: {
      open: async () => {
        opened.push(opened.length + 1);
        return opened.length;
      },
      query: async (_connection: number, text: string): Promise<Rows> => {
        if (failNext) {
          failNext = false;
          throw new Error('connection lost');
        }
        return text.includes('pg_backend_pid') ? [{ pid: serverPid }] : [{ n: 1 }];
      },
      givenProcessId: () => given,
      end: async (connection: number) => {
        ended.push(connection);
      },
    },
  };
}

describe('the polling connection (drivers/polling.ts)', () => {
  it('is used when it reaches the server itself: the process it was given is the one that answers', async () => {
    const fake = fakeDriver(41, 41);
    const connection = reopeningConnection(fake.driver);
    assert.deepEqual(await connection.query('SELECT 1 AS n', []), [{ n: 1 }]);
    assert.deepEqual(await connection.query('SELECT 1 AS n', []), [{ n: 1 }]);
    assert.deepEqual(fake.opened, [1], 'one connection, opened once');
  });

  it('is refused and ended behind a pooler or proxy: another process answers, or none was given', async () => {
    for (const given of [7, null]) {
      const fake = fakeDriver(41, given);
      const connection = reopeningConnection(fake.driver);
      await assert.rejects(connection.query('SELECT 1 AS n', []), (error: unknown) => {
        assert.ok(error instanceof PollingUnusable);
        assert.match(error.message, /goes through a pooler or proxy/);
        return true;
      });
      assert.deepEqual(fake.ended, [1], `given ${given}: the connection is ended`);
    }
  });

  it('takes a driver that does not say which process it was given at its word', async () => {
    const fake = fakeDriver(41, undefined);
    assert.deepEqual(await reopeningConnection(fake.driver).query('SELECT 1 AS n', []), [{ n: 1 }]);
  });

  it('ends a connection whose query failed, and opens another for the next query', async () => {
    const fake = fakeDriver(41, 41);
    const connection = reopeningConnection(fake.driver);
    await connection.query('SELECT 1 AS n', []);
    fake.failNextQuery();
    await assert.rejects(connection.query('SELECT 1 AS n', []), /connection lost/);
    assert.deepEqual(fake.ended, [1]);
    assert.deepEqual(await connection.query('SELECT 1 AS n', []), [{ n: 1 }]);
    assert.deepEqual(fake.opened, [1, 2]);
  });
});
