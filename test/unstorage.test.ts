import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createStorage, type Storage } from 'unstorage';
import { type PostgresDriver, postgresDriver } from '../src/adapters/unstorage.js';
import { ABSOLUTE_TIMEOUT_RUNS, assertEndsAtAbsoluteTime } from './support/absolute-end.js';
import { useTestSchema } from './support/apps.js';
import { useDriverStores } from './support/driver-stores.js';
import { newPGlite } from './support/pglite.js';
import { sessionRows } from './support/session-rows.js';

/** unstorage's own createStorage on the driver, as Nuxt's and Astro's session storage use it. */
describe('unstorage with postgresDriver', () => {
  const db = useTestSchema('cps_unstorage', 4);
  let driver: PostgresDriver;
  let storage: Storage;
  // unstorage's keys are stored as given, not hashed.
  const rows = sessionRows(
    async (text, values) => (await db.pool.query(text, values)).rows,
    `"${db.schemaName}"."session"`,
    (key) => key,
  );

  before(async () => {
    driver = postgresDriver({
      pool: db.pool,
      schemaName: db.schemaName,
      createTableIfMissing: true,
      pruneSessionInterval: false,
    });
    storage = createStorage({ driver });
  });
  db.onClose(async () => {
    await storage.dispose();
  });

  it('declares the ttl flag', () => {
    assert.deepEqual(driver.flags, { ttl: true });
  });

  it('stores and reads items of every kind unstorage serializes', async () => {
    await storage.setItem('session:a', { user: 'ada', cart: [1, 2] });
    await storage.setItem('session:b', 'plain text');
    await storage.setItem('count', 3);
    assert.deepEqual(await storage.getItem('session:a'), { user: 'ada', cart: [1, 2] });
    assert.equal(await storage.getItem('session:b'), 'plain text');
    assert.equal(await storage.getItem('count'), 3);
    assert.equal(await storage.getItem('missing'), null);
    assert.equal(await storage.hasItem('session:a'), true);
    assert.equal(await storage.hasItem('missing'), false);
  });

  it('lists keys under a base, and clears a base or everything', async () => {
    await storage.clear();
    await storage.setItem('session:a', 1);
    await storage.setItem('session:b', 2);
    await storage.setItem('cache:c', 3);
    assert.deepEqual((await storage.getKeys('session')).sort(), ['session:a', 'session:b']);
    assert.deepEqual((await storage.getKeys()).sort(), ['cache:c', 'session:a', 'session:b']);
    // unstorage's own clear(base) reaches only mounts under the base: ask the driver itself.
    await driver.clear!('session:', {});
    assert.deepEqual(await storage.getKeys(), ['cache:c']);
    await storage.clear();
    assert.equal(await rows.count(), 0);
  });

  it('removeItem deletes the row', async () => {
    await storage.setItem('gone', { user: 'ada' });
    await storage.removeItem('gone');
    assert.equal(await rows.of('gone'), undefined);
    assert.equal(await storage.getItem('gone'), null);
  });

  it('an item lives for its ttl, by the database clock; an expired one is gone', async () => {
    await storage.setItem('short', 'x', { ttl: 600 });
    const left = (await rows.of('short'))!.left;
    assert.ok(left > 590 && left <= 600, `the ttl, exactly, got ${left}`);
    await storage.setItem('day', 'y');
    assert.ok((await rows.of('day'))!.left > 86_000, 'without ttl, the store’s lifetime: one day');
    // unstorage's own drivers (redis, upstash, vercel-kv) read a ttl of 0 as none.
    await storage.setItem('zero', 'z', { ttl: 0 });
    assert.ok((await rows.of('zero'))!.left > 86_000, 'ttl: 0, the store’s lifetime');
    await rows.expireAll();
    assert.equal(await storage.getItem('short'), null);
    assert.equal(await storage.hasItem('short'), false);
    assert.deepEqual(await storage.getKeys(), []);
    assert.equal(await driver.pruneSessions(), 3);
  });

  it('keeps keys as given, which unstorage lists, and refuses hashSessionIds: true', async () => {
    await storage.setItem('listed', 'v');
    assert.ok(await rows.of('listed'), 'the row is under the key itself');
    assert.throws(
      () => postgresDriver({ pool: db.pool, schemaName: db.schemaName, hashSessionIds: true }),
      /"hashSessionIds" cannot be true/,
    );
  });

  it('refuses a ttl that is no positive number, naming it', async () => {
    await assert.rejects(storage.setItem('bad', 'x', { ttl: -1 }), /option "ttl"/);
    await assert.rejects(storage.setItem('bad', 'x', { ttl: 'soon' }), /option "ttl"/);
  });

  it('checks the store options when the driver is made', () => {
    assert.throws(() => postgresDriver({ pool: db.pool, tableNmae: 'x' } as any), /unknown option "tableNmae"/);
  });
});

describe('unstorage with postgresDriver on PGlite', () => {
  it('stores, reads and removes an item', async () => {
    const pglite = await newPGlite();
    const storage = createStorage({
      driver: postgresDriver({ pglite, createTableIfMissing: true, pruneSessionInterval: false }),
    });
    try {
      await storage.setItem('session:a', { user: 'ada' }, { ttl: 60 });
      assert.deepEqual(await storage.getItem('session:a'), { user: 'ada' });
      await storage.removeItem('session:a');
      assert.equal(await storage.hasItem('session:a'), false);
      assert.equal((await pglite.query('SELECT 1 FROM session')).rows.length, 0);
    } finally {
      await storage.dispose();
      await pglite.close();
    }
  });
});

for (const { driverName, label, options } of ABSOLUTE_TIMEOUT_RUNS) {
  describe(`unstorage's absolute timeout over ${label}`, () => {
    const suite = useDriverStores(driverName, 'cps_unstorage_abs');
    it('setItem on a live item keeps its creation time: it ends at its absolute time', async () => {
      const storage = createStorage({
        driver: postgresDriver({
          ...suite.harness.storeOptions,
          schemaName: suite.schemaName,
          createTableIfMissing: true,
          pruneSessionInterval: false,
          absoluteTimeout: 2,
          ...options,
        }),
      });
      try {
        await assertEndsAtAbsoluteTime(
          2,
          (n) => storage.setItem('session:stolen', { user: 'ada', n }, { ttl: 3600 }),
          () => storage.hasItem('session:stolen'),
        );
      } finally {
        await storage.dispose();
      }
    });
  });
}
