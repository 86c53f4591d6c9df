import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import connectPgSimple from '../src/index.js';

/**
 * Every callback is called exactly once — with a result, an error, a timeout, or on a closed
 * store — even when it throws, and a late result never calls it again. No database needed: a
 * fake pool answers (or does not).
 */
const { PGStore } = connectPgSimple;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const session = { cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString() } };

/** A pool whose session table exists, and whose other statements answer after `delayMs` (never, if Infinity). */
function fakePool(delayMs: number, fail = false) {
  return {
    query: async (text: string) => {
      if (text.includes('AS exists')) {
        const columns = {
          sid_type: 'text',
          sess_type: 'json',
          expire_type: 'timestamp with time zone',
          created_type: null,
        };
        return { rows: [{ exists: 'true', comment: null, kind: 'r', schema: 'public', ...columns }] };
      }
      if (delayMs === Number.POSITIVE_INFINITY) return new Promise(() => {});
      await sleep(delayMs);
      if (fail) throw Object.assign(new Error('server said no'), { code: 'XX000' });
      if (text.startsWith('SELECT count')) return { rows: [{ n: 3 }] };
      if (text.startsWith('WITH lock')) return { rows: [{ held: 'true', deleted: 0 }] };
      return { rows: [] };
    },
  };
}

/** Runs `body` with uncaught exceptions collected instead of failing the test run. */
async function collectingUncaught(body: (thrown: unknown[]) => Promise<void>) {
  const thrown: unknown[] = [];
  const unhandled: unknown[] = [];
  const onUncaught = (error: unknown) => thrown.push(error);
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const listeners = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);
  try {
    await body(thrown);
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
    for (const l of listeners) process.on('uncaughtException', l);
  }
  assert.deepEqual(unhandled, [], 'no unhandled rejection');
}

type Invoke = (store: any, callback: (...args: unknown[]) => void) => void;
const methods: Array<[string, Invoke]> = [
  ['get', (s, cb) => s.get('sid', cb)],
  ['set', (s, cb) => s.set('sid', { ...session, n: 1 }, cb)],
  ['touch', (s, cb) => s.touch('sid', session, cb)],
  ['destroy', (s, cb) => s.destroy('sid', cb)],
  ['all', (s, cb) => s.all(cb)],
  ['length', (s, cb) => s.length(cb)],
  ['clear', (s, cb) => s.clear(cb)],
  ['pruneSessions', (s, cb) => s.pruneSessions(cb)],
];

const newStore = (pool: object, options: Record<string, unknown> = {}) =>
  new PGStore({ pool, pruneSessionInterval: false, touchAfter: false, errorLog: () => {}, ...options } as any);

describe('callbacks', () => {
  for (const [outcome, pool, expectError] of [
    ['success', fakePool(1), false],
    ['database error', fakePool(1, true), true],
  ] as const) {
    it(`are called once on ${outcome} by every method, even when they throw`, async () => {
      await collectingUncaught(async (thrown) => {
        const store = newStore(pool);
        const calls = new Map<string, unknown[][]>();
        for (const [name, invoke] of methods) {
          calls.set(name, []);
          invoke(store, (...args) => {
            calls.get(name)!.push(args);
            throw new Error(`callback of ${name} threw`);
          });
        }
        await sleep(100);
        for (const [name, args] of calls) {
          assert.equal(args.length, 1, `${name} called once`);
          assert.equal(args[0]![0] instanceof Error, expectError, `${name} error argument`);
        }
        assert.equal(thrown.length, methods.length, 'each thrown callback error surfaces once');
        await store.close();
      });
    });
  }

  it('are called once with a TimeoutError, and never again when the late result comes', async () => {
    await collectingUncaught(async () => {
      for (const pool of [fakePool(300), fakePool(Number.POSITIVE_INFINITY)]) {
        const store = newStore(pool, { operationTimeout: 50 });
        const calls = new Map<string, unknown[][]>();
        for (const [name, invoke] of methods.filter(([n]) => n !== 'pruneSessions')) {
          calls.set(name, []);
          invoke(store, (...args) => calls.get(name)!.push(args));
        }
        await sleep(500);
        for (const [name, args] of calls) {
          assert.equal(args.length, 1, `${name} called once`);
          assert.equal((args[0]![0] as any)?.code, 'ETIMEDOUT', `${name} timed out`);
        }
        // Nothing in flight any more that close() would wait for.
        await store.close();
      }
    });
  });

  it('are called once with an error on a closed store', async () => {
    const store = newStore(fakePool(1));
    await store.close();
    for (const [name, invoke] of methods) {
      const args = await new Promise<unknown[]>((resolve) => invoke(store, (...a) => resolve(a)));
      assert.match(String((args[0] as Error)?.message), /closed/, name);
    }
  });

  it('that are not functions are refused at once, before anything is written', async () => {
    const sent: string[] = [];
    const pool = fakePool(1);
    const store = newStore({
      query: (text: string) => {
        sent.push(text);
        return pool.query(text);
      },
    });
    assert.throws(() => store.get('sid', 'not a function' as any), /callback of get\(\) must be a function/);
    assert.throws(() => store.set('sid', session as any, 42 as any), /callback of set\(\) must be a function/);
    assert.throws(() => store.destroy('sid', {} as any), /callback of destroy\(\) must be a function/);
    await sleep(50);
    assert.deepEqual(sent, [], 'no statement was sent');
    await store.close();
  });
});
