import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertEndsAtAbsoluteTime } from './absolute-end.js';
import { eventually, holdTableLock, uniqueName } from './database.js';
import { useDriverStores } from './driver-stores.js';
import type { drivers } from './drivers.js';
import { assertSameSession, inSeconds, pastTheCacheBound, storedId } from './sessions.js';

/** How the tables the suite's stores create are laid out. */
export type TableLayout = 'plain' | 'partitioned';

/** The options that make a store create its table partitioned (one partition a day, sessions at most 30 days). */
const LAYOUT_OPTIONS: Record<TableLayout, Record<string, unknown>> = {
  plain: {},
  partitioned: { partitionBy: { days: 1 }, absoluteTimeout: 30 * 86_400 },
};

/**
 * The store's behaviour, written once and run against every driver (and the partitioned layout).
 * Each run gets its own schema, so runs cannot see each other's rows.
 */
export function behaviourSuite(driverName: keyof typeof drivers & string, layout: TableLayout = 'plain'): void {
  const layoutLabel = layout === 'plain' ? '' : `, ${layout} tables`;
  describe(`store behaviour over ${driverName}${layoutLabel}`, () => {
    const suite = useDriverStores(driverName, `cps_${driverName.replace('-', '_')}`, LAYOUT_OPTIONS[layout]);
    const { newStore, q, table, logged } = suite;
    /** Tests that hold a lock from another connection cannot run on PGlite. */
    const skippedInProcess = (t: { skip(message: string): void }) => {
      if (suite.harness.inProcess) t.skip('PGlite runs in-process: no other connection can hold a lock against it');
      return suite.harness.inProcess === true;
    };
    const rowOf = async (sid: string, name = 'session') =>
      (
        await q(
          `SELECT sid, sess::text AS sess, expire, xmin::text AS xmin, extract(epoch FROM expire - now())::float8 AS left FROM ${table(name)} WHERE sid = $1`,
          [storedId(sid)],
        )
      )[0];

    it('stores and reads back a session faithfully', async () => {
      const store = newStore();
      const data = {
        ...inSeconds(3600),
        user: { id: 42, name: 'Zoë 🚀', tags: ['a', 'b'] },
        at: new Date('2025-01-02T03:04:05.000Z'),
        nul: 'a\u0000b',
        nested: JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}}'),
        gone: undefined,
      };
      await store.set('s1', data as any);
      const got = (await store.get('s1')) as any;
      assertSameSession(got, JSON.parse(JSON.stringify(data)));
      assert.equal(got.nul, 'a\u0000b');
      assert.equal(({} as any).polluted, undefined);
      assert.equal(Object.getPrototypeOf(got.nested), Object.prototype);
      assert.ok(Object.hasOwn(got.nested, '__proto__'));
    });

    it('misses a session that does not exist, and one that expired', async () => {
      const store = newStore();
      assert.equal(await store.get('nope'), null);
      await store.set('expired', { cookie: { expires: new Date(Date.now() - 1000).toISOString() } } as any);
      assert.equal(await store.get('expired'), null);
    });

    it('takes the lifetime from ttl, else the cookie, else one day', async () => {
      const byCookie = newStore();
      await byCookie.set('c', inSeconds(100) as any);
      assert.ok(Math.abs((await rowOf('c')).left - 100) < 3, "the cookie's maxAge, exactly");
      // A direct call's plain cookie: maxAge (ms) without expires, as express-session's Cookie would count it.
      await byCookie.set('m', { cookie: { maxAge: 3_600_000 } } as any);
      assert.ok(Math.abs((await rowOf('m')).left - 3600) < 3, `an hour, not a day: ${(await rowOf('m')).left} s`);
      const byTtl = newStore({ ttl: 500 });
      await byTtl.set('t', inSeconds(100) as any);
      assert.ok(Math.abs((await rowOf('t')).left - 500) < 3, 'ttl wins over the cookie');
      const byFunction = newStore({ ttl: (s: any) => s.seconds, touchAfter: false });
      await byFunction.set('f', { seconds: 1234, cookie: {} } as any);
      assert.ok(Math.abs((await rowOf('f')).left - 1234) < 3);
      const byDefault = newStore({ touchAfter: false });
      await byDefault.set('d', { cookie: { expires: null } } as any);
      assert.ok(Math.abs((await rowOf('d')).left - 86_400) < 3);
    });

    it('destroys a session; destroying or touching a missing one is no error', async () => {
      const store = newStore();
      await store.set('d1', inSeconds(60) as any);
      await store.destroy('d1');
      assert.equal(await store.get('d1'), null);
      assert.equal(await rowOf('d1'), undefined);
      await store.destroy('never-there');
      await store.touch('never-there', inSeconds(60) as any);
      assert.equal(await rowOf('never-there'), undefined, 'touch never creates a row');
    });

    it('touch extends the expiry, and skips writes while the row has enough time left', async () => {
      const store = newStore({ touchAfter: 30 });
      await store.set('t1', inSeconds(600) as any);
      const written = await rowOf('t1');
      assert.ok(Math.abs(written.left - 600) < 3, 'a write stores the lifetime, exactly');
      // A later request: get, then touch with the cookie reset to the full lifetime.
      const loaded = (await store.get('t1')) as any;
      loaded.cookie.expires = new Date(Date.now() + 600_000).toISOString();
      await store.touch('t1', loaded);
      assert.equal((await rowOf('t1')).xmin, written.xmin, 'within the window: nothing written');
      // Another instance, which did not read the session: the statement itself skips the write.
      const other = newStore({ touchAfter: 30 });
      await other.touch('t1', inSeconds(620) as any);
      assert.equal((await rowOf('t1')).xmin, written.xmin, 'within the window, said by the database');
      await other.touch('t1', inSeconds(700) as any);
      const extended = await rowOf('t1');
      assert.notEqual(extended.xmin, written.xmin);
      assert.ok(Math.abs(extended.left - 700) < 3);
    });

    it('a touch for a shorter lifetime than the row has left brings the row down to it, and the next get says so', async () => {
      const store = newStore();
      await store.set('shortened', inSeconds(30 * 86_400) as any);
      // The app shortens the cookie (the end of a privileged window, "don't remember me"): a touch.
      const loaded = (await store.get('shortened')) as any;
      const expires = Date.now() + 60_000;
      loaded.cookie.originalMaxAge = 60_000;
      loaded.cookie.expires = new Date(expires).toISOString();
      await store.touch('shortened', loaded);
      const row = await rowOf('shortened');
      assert.ok(new Date(row.expire).getTime() <= expires + 1000, `the row ends with the cookie (${row.left} s left)`);
      const again = (await store.get('shortened')) as any;
      assert.ok(
        new Date(again.cookie.expires).getTime() <= expires + 1000,
        'the next get hands back the shorter end, from this store',
      );
      // A store that never read the session: the statement itself brings the row down.
      await store.set('shortened-elsewhere', inSeconds(3600) as any);
      await newStore().touch('shortened-elsewhere', inSeconds(60) as any);
      assert.ok((await rowOf('shortened-elsewhere')).left <= 61);
      await pastTheCacheBound();
      assert.ok(
        new Date(((await store.get('shortened-elsewhere')) as any).cookie.expires).getTime() <= Date.now() + 61_000,
      );
    });

    it('a touch with the cookie as get handed it out writes nothing, on this store or another', async () => {
      const store = newStore();
      const other = newStore();
      await store.set('as-handed-out', inSeconds(600) as any);
      const written = await rowOf('as-handed-out');
      for (let i = 0; i < 10; i++) {
        // express-session without rolling: an unchanged session's cookie is not reset before the touch.
        const loaded = (await store.get('as-handed-out')) as any;
        await new Promise((resolve) => setTimeout(resolve, 2));
        await store.touch('as-handed-out', loaded);
        await other.touch('as-handed-out', loaded);
      }
      assert.equal((await rowOf('as-handed-out')).xmin, written.xmin, 'nothing written');
    });

    it('touchAfter: false writes on every touch, as 10.x did', async () => {
      const store = newStore({ touchAfter: false });
      await store.set('t2', inSeconds(600) as any);
      const first = await rowOf('t2');
      await new Promise((r) => setTimeout(r, 20));
      await store.touch('t2', inSeconds(600) as any);
      assert.notEqual((await rowOf('t2')).xmin, first.xmin);
    });

    it('never lets a session outlive its idle timeout; lazy touch ends it early by at most the window', async () => {
      const store = newStore({ touchAfter: 60 }); // for 100-second sessions, a window of 10 s
      await store.set('idle', inSeconds(100) as any);
      for (const [leftSeconds, written] of [
        [95, false],
        [85, true],
      ] as const) {
        await q(`UPDATE ${table()} SET expire = now() + make_interval(secs => $2) WHERE sid = $1`, [
          storedId('idle'),
          leftSeconds,
        ]);
        await pastTheCacheBound();
        const before = await rowOf('idle');
        const loaded = (await store.get('idle')) as any;
        const cookieExpires = Date.now() + 100_000;
        loaded.cookie.expires = new Date(cookieExpires).toISOString();
        await store.touch('idle', loaded);
        const row = await rowOf('idle');
        assert.equal(row.xmin !== before.xmin, written, `${leftSeconds} s left: ${written ? 'written' : 'skipped'}`);
        const expire = new Date(row.expire).getTime();
        assert.ok(expire <= cookieExpires + 1000, `never later than the idle timeout (${leftSeconds} s left)`);
        assert.ok(expire >= cookieExpires - 10_000 - 1000, `early by at most the window (${leftSeconds} s left)`);
      }
    });

    it('a touch that found the row with enough time does not overstate what the row has left', async () => {
      const a = newStore({ touchAfter: 60 });
      const b = newStore({ touchAfter: 60 });
      await a.set('cover', inSeconds(100) as any); // stores 100
      const loaded = (await a.get('cover')) as any;
      await b.touch('cover', inSeconds(120) as any); // another instance: 120 (window 12)
      const touchFor = async (seconds: number) => {
        const expires = Date.now() + seconds * 1000;
        loaded.cookie.expires = new Date(expires).toISOString();
        await a.touch('cover', loaded);
        return expires;
      };
      await touchFor(125); // wants 112.5 left; the row's 120 is enough: nothing written
      const expires = await touchFor(135); // wants 121.5: the row's 120 is not, so it must write
      const row = await rowOf('cover');
      assert.ok(new Date(row.expire).getTime() >= expires - 13_500 - 1000, 'early by at most the window');
    });

    it('does not touch an expired session back to life, nor with disableTouch', async () => {
      const store = newStore();
      await store.set('old', { cookie: { expires: new Date(Date.now() - 5000).toISOString() } } as any);
      await store.touch('old', inSeconds(600) as any);
      assert.equal(await store.get('old'), null);
      const frozen = newStore({ disableTouch: true });
      await frozen.set('frozen', inSeconds(100) as any);
      const before = await rowOf('frozen');
      assert.ok(Math.abs(before.left - 100) < 3, `no touch window is added when touches are off (${before.left} s)`);
      await frozen.touch('frozen', inSeconds(10_000) as any);
      assert.equal((await rowOf('frozen')).xmin, before.xmin);
    });

    it('a set whose data did not change (only the cookie expiry) writes nothing', async () => {
      const store = newStore({ touchAfter: 60 });
      await store.set('same', { ...inSeconds(600), n: 1 } as any);
      const first = await rowOf('same');
      const loaded = (await store.get('same')) as any;
      // As express-session and @fastify/session do: the loaded session's cookie, given a new expiry.
      loaded.cookie.expires = new Date(Date.now() + 600_000).toISOString();
      await store.set('same', loaded);
      assert.equal((await rowOf('same')).xmin, first.xmin);
      await store.set('same', { ...loaded, n: 2 });
      assert.equal(JSON.parse((await rowOf('same')).sess).n, 2);
    });

    it('a request in flight cannot bring back a session destroyed meanwhile', async () => {
      const a = newStore();
      const b = newStore();
      await a.set('victim', { ...inSeconds(600), user: 1 } as any);
      const loaded = (await a.get('victim')) as any;
      await b.destroy('victim'); // logged out elsewhere
      await a.set('victim', { ...loaded, user: 1, lastPage: '/x' });
      await a.touch('victim', inSeconds(600) as any);
      assert.equal(await rowOf('victim'), undefined);
      assert.equal(await b.get('victim'), null);
    });

    /** Two instances on a table of their own, for the rule that a destroyed session stays gone. */
    const logoutTable = () => {
      const tableName = uniqueName('final');
      const here = newStore({ tableName });
      const elsewhere = newStore({ tableName });
      return {
        here,
        elsewhere,
        seed: (sid: string) => here.set(sid, { ...inSeconds(600), user: 1 } as any),
        row: (sid: string) => rowOf(sid, tableName),
        expireNow: (sid: string) =>
          q(`UPDATE ${table(tableName)} SET expire = now() - interval '1 second' WHERE sid = $1`, [storedId(sid)]),
      };
    };

    it('a logout is final: destroyed on the instance that loaded it', async () => {
      const { here, seed, row } = logoutTable();
      await seed('same');
      const loaded = (await here.get('same')) as any;
      await here.destroy('same');
      await here.set('same', { ...loaded, page: 2 });
      await here.set('same', loaded);
      await here.touch('same', loaded);
      assert.equal(await row('same'), undefined);
    });

    it('a logout is final: overlapping requests of one session, destroyed on another instance', async () => {
      const { here, elsewhere, seed, row } = logoutTable();
      await seed('overlap');
      const [a, b] = (await Promise.all([here.get('overlap'), here.get('overlap')])) as any[];
      await elsewhere.destroy('overlap');
      await Promise.all([here.set('overlap', { ...a, page: 'a' }), here.set('overlap', { ...b, page: 'b' })]);
      assert.equal(await row('overlap'), undefined);
    });

    it('a logout is final: clear() on the instance that loaded it', async () => {
      const { here, seed, row } = logoutTable();
      await seed('cleared');
      const loaded = (await here.get('cleared')) as any;
      await here.clear();
      await here.set('cleared', { ...loaded, page: 3 });
      assert.equal(await row('cleared'), undefined);
    });

    it('a logout is final: a new session written again by its request after a logout', async () => {
      const { here, elsewhere, row } = logoutTable();
      const fresh = { ...inSeconds(600), user: 2 } as any;
      await here.set('fresh', fresh);
      assert.ok(await row('fresh'), 'a new session is stored');
      await elsewhere.destroy('fresh');
      fresh.page = 6;
      await here.set('fresh', fresh);
      assert.equal(await row('fresh'), undefined);
    });

    it('a logout is final: a session that expired meanwhile is not revived', async () => {
      const { here, seed, row, expireNow } = logoutTable();
      await seed('expired');
      const loaded = (await here.get('expired')) as any;
      await expireNow('expired');
      await here.set('expired', { ...loaded, page: 5 });
      await here.touch('expired', loaded);
      assert.ok((await row('expired')).left < 0);
    });

    it("a write without a load receipt keeps a live session's creation time: it ends at its absolute time", async () => {
      const store = newStore({ absoluteTimeout: 2 });
      await assertEndsAtAbsoluteTime(
        2,
        (n) => store.set('stolen', { ...inSeconds(3600), n } as any),
        async () => (await store.get('stolen')) !== null,
      );
      await store.set('stolen', inSeconds(3600) as any);
      assert.ok(await store.get('stolen'), 'a write after the end is a new session');
    });

    it("concurrent requests of one session keep each other's changes, key by key", async () => {
      const a = newStore();
      const b = newStore();
      await a.set('both', { ...inSeconds(600), cart: ['x'], kept: 1, gone: true, shared: 0, quote: 'a"\\b' } as any);
      const slow = (await a.get('both')) as any;
      const quick = (await b.get('both')) as any;
      slow.uploadId = 'u1';
      slow.cart = ['x', 'y']; // an array is replaced whole
      delete slow.gone;
      slow.shared = 'slow';
      quick.flash = 'saved';
      quick.shared = 'quick';
      await b.set('both', quick);
      await a.set('both', slow);
      const stored = JSON.parse((await rowOf('both')).sess);
      assert.deepEqual(
        { ...stored, cookie: undefined },
        {
          cart: ['x', 'y'],
          kept: 1,
          shared: 'slow',
          quote: 'a"\\b',
          uploadId: 'u1',
          flash: 'saved',
          cookie: undefined,
        },
        "both requests' changes, the later write winning the key both changed",
      );
      assert.equal(Object.hasOwn(stored, 'gone'), false, 'a deleted key stays deleted');
      assert.equal(((await a.get('both')) as any).quote, 'a"\\b', 'escapes survive the merge');
    });

    it("a session holding a NUL character (which PostgreSQL's json functions refuse) is written whole, and still not brought back", async () => {
      const store = newStore();
      await store.set('nulkey', { ...inSeconds(600), 'k\u0000ey': 1, value: 'a\u0000b' } as any);
      const loaded = (await store.get('nulkey')) as any;
      loaded.v = 2;
      await store.set('nulkey', loaded);
      assert.deepEqual(JSON.parse((await rowOf('nulkey')).sess)['k\u0000ey'], 1);
      assert.equal(JSON.parse((await rowOf('nulkey')).sess).v, 2);
      assert.equal(((await store.get('nulkey')) as any).value, 'a\u0000b');
      await store.destroy('nulkey');
      loaded.v = 3;
      await store.set('nulkey', loaded);
      assert.equal(await rowOf('nulkey'), undefined);
    });

    it("a change holding a lone surrogate (which PostgreSQL's json functions refuse) is saved, beside another request's", async () => {
      const a = newStore();
      const b = newStore();
      await a.set('lone', { ...inSeconds(600), kept: 1 } as any);
      const here = (await a.get('lone')) as any;
      const there = (await b.get('lone')) as any;
      there.other = 'b';
      await b.set('lone', there);
      here.broken = 'a\uD800b';
      await a.set('lone', here);
      const stored = JSON.parse((await rowOf('lone')).sess);
      assert.equal(stored.broken, 'a\uD800b', 'the change is saved');
      assert.equal(stored.kept, 1);
      assert.equal(((await a.get('lone')) as any).broken, 'a\uD800b');
    });

    it("a change made while another request stored a lone surrogate (which PostgreSQL's json functions refuse) is merged, not lost", async () => {
      const a = newStore();
      const b = newStore();
      await a.set('lonerow', { ...inSeconds(600), kept: 1 } as any);
      const here = (await a.get('lonerow')) as any;
      const there = (await b.get('lonerow')) as any;
      there['key\uDC00'] = 'a\uD800b';
      await b.set('lonerow', there);
      here.mine = 'saved';
      await a.set('lonerow', here);
      const stored = JSON.parse((await rowOf('lonerow')).sess);
      assert.equal(stored.mine, 'saved', "this request's change is saved");
      assert.equal(stored['key\uDC00'], 'a\uD800b', "the other request's is kept");
      assert.equal(stored.kept, 1);
      const next = (await a.get('lonerow')) as any;
      next.mine = 'again';
      await a.set('lonerow', next);
      const loaded = (await b.get('lonerow')) as any;
      assert.equal(loaded.mine, 'again');
      assert.equal(loaded['key\uDC00'], 'a\uD800b');
    });

    for (const readCache of [undefined, false] as const) {
      it(`${readCache === false ? 'readCache: false: sees every change made elsewhere at once' : "by default: sees every change made elsewhere within the trusted cache's bound"}`, async () => {
        const here = newStore(readCache === false ? { readCache } : {});
        const elsewhere = newStore();
        const seen = readCache === false ? async () => {} : pastTheCacheBound;
        const sid = `x1-${readCache}`;
        await elsewhere.set(sid, { ...inSeconds(600), v: 1 } as any);
        assert.equal(((await here.get(sid)) as any).v, 1);
        await elsewhere.set(sid, { ...inSeconds(600), v: 2 } as any);
        await seen();
        assert.equal(((await here.get(sid)) as any).v, 2);
        await q(`DELETE FROM ${table()} WHERE sid = $1`, [storedId(sid)]);
        await seen();
        assert.equal(await here.get(sid), null);
      });
    }

    it('readCache: answers from what it read, sees a change made elsewhere within the bound', async () => {
      const boundMs = 400;
      const here = newStore({ readCache: boundMs });
      const elsewhere = newStore();
      await elsewhere.set('c1', { ...inSeconds(600), v: 1 } as any);
      await elsewhere.set('c2', { ...inSeconds(600), v: 1 } as any);
      assert.equal(((await here.get('c1')) as any).v, 1);
      assert.equal(((await here.get('c2')) as any).v, 1);
      const readAt = performance.now();
      await elsewhere.set('c1', { ...inSeconds(600), v: 2 } as any);
      await q(`DELETE FROM ${table()} WHERE sid = $1`, [storedId('c2')]);
      const changedAt = performance.now();
      // Within the bound, the cache answers: this is what makes the test below mean something.
      if (performance.now() - readAt < boundMs / 2) {
        assert.equal(((await here.get('c1')) as any).v, 1, 'served from the cache');
        assert.equal(((await here.get('c2')) as any).v, 1, 'served from the cache');
      }
      const served = (await here.get('c1')) as any;
      served.v = 99;
      assert.notEqual(((await here.get('c1')) as any).v, 99, "a caller's changes never reach the cache");
      await new Promise((r) => setTimeout(r, Math.max(0, boundMs - (performance.now() - changedAt)) + 5));
      assert.equal(((await here.get('c1')) as any).v, 2, 'the change made elsewhere, within the bound');
      assert.equal(await here.get('c2'), null, 'the delete made elsewhere, within the bound');
    });

    // The cache kept by time, and the one kept current by change notices: the same guarantees.
    for (const readCache of [60_000, true]) {
      it(`readCache: ${readCache}: sees its own writes and destroys at once, and never serves an expired session`, async () => {
        const here = newStore({ readCache });
        await here.set('o1', { ...inSeconds(600), v: 1 } as any);
        assert.equal(((await here.get('o1')) as any).v, 1);
        await here.set('o1', { ...inSeconds(600), v: 2 } as any);
        assert.equal(((await here.get('o1')) as any).v, 2, 'its own write');
        await here.destroy('o1');
        assert.equal(await here.get('o1'), null, 'its own destroy');
        // A read in flight while the session is destroyed here must not put it back in the cache.
        await newStore().set('o3', { ...inSeconds(600), v: 1 } as any);
        const reading = here.get('o3');
        await here.destroy('o3');
        await reading;
        assert.equal(await here.get('o3'), null, 'its own destroy, with a read in flight');
        await here.set('o2', { ...inSeconds(600), v: 1 } as any);
        await here.get('o2');
        await here.clear();
        assert.equal(await here.get('o2'), null, 'its own clear');
        await here.set('short', { ...inSeconds(1), v: 1 } as any);
        await q(`UPDATE ${table()} SET expire = now() + interval '300 milliseconds' WHERE sid = $1`, [
          storedId('short'),
        ]);
        assert.equal(((await here.get('short')) as any).v, 1);
        await new Promise((r) => setTimeout(r, 400));
        assert.equal(await here.get('short'), null, 'expired: not served from the cache');
      });

      it(`readCache: ${readCache}: a touch that ends after a newer set of the same session does not bring back the older one`, async () => {
        const here = newStore({ readCache });
        for (let i = 0; i < 5; i++) {
          const sid = `race${i}`;
          await here.set(sid, { ...inSeconds(600), v: 1 } as any);
          await here.get(sid);
          // The set is sent first and ends first; the touch, which must write, read the entry before.
          await Promise.all([
            here.set(sid, { ...inSeconds(600), v: 2 } as any),
            here.touch(sid, inSeconds(1000) as any),
          ]);
          assert.equal(((await here.get(sid)) as any).v, 2, `round ${i}: its own set, not the older text`);
        }
      });

      it(`readCache: ${readCache}: a write that finds the row expired does not make the cache serve it`, async () => {
        const here = newStore({ readCache });
        await here.set('gone', { ...inSeconds(600), v: 1 } as any);
        await q(`UPDATE ${table()} SET expire = now() + interval '300 milliseconds' WHERE sid = $1`, [
          storedId('gone'),
        ]);
        const loaded = (await here.get('gone')) as any;
        assert.equal(loaded.v, 1);
        await new Promise((r) => setTimeout(r, 400));
        await here.set('gone', { ...loaded, v: 2 }); // loaded, so an update: finds nothing alive
        assert.equal(await here.get('gone'), null);
        const row = await rowOf('gone');
        assert.ok(row.left < 0 && JSON.parse(row.sess).v === 1, 'nor brought back to life in the table');
      });
    }

    it('synchronousCommit: false stores, updates and touches all the same', async () => {
      const store = newStore({ synchronousCommit: false, touchAfter: false });
      await store.set('async', { ...inSeconds(600), n: 1 } as any);
      const loaded = (await store.get('async')) as any;
      await store.set('async', { ...loaded, n: 2 });
      await store.touch('async', inSeconds(900) as any);
      const row = await rowOf('async');
      assert.equal(JSON.parse(row.sess).n, 2);
      assert.ok(Math.abs(row.left - 900) < 3);
      assert.deepEqual(
        await q('SHOW synchronous_commit'),
        [{ synchronous_commit: 'on' }],
        'the setting stayed in its transaction',
      );
    });

    it('lists, counts and clears live sessions', async () => {
      const store = newStore({ tableName: uniqueName('listing') });
      await store.set('l1', { ...inSeconds(60), n: 1 } as any);
      await store.set('l2', { ...inSeconds(60), n: 2 } as any);
      await store.set('l3', { cookie: { expires: new Date(Date.now() - 1000).toISOString() } } as any);
      const all = await store.all();
      // With hashed ids (the default), all() lists what the table holds: the ids' hashes.
      assert.deepEqual(
        all.map((s: any) => [s.id, s.n]).sort(),
        [
          [storedId('l1'), 1],
          [storedId('l2'), 2],
        ].sort(),
      );
      assert.equal(await store.length(), 2);
      // A listed id is for destroyStoredId; as a session id it is hashed again, and finds nothing.
      assert.equal(await store.get(storedId('l1')), null);
      await store.destroy(storedId('l1'));
      assert.equal(await store.length(), 2);
      await store.destroyStoredId(storedId('l1'));
      assert.equal(await store.get('l1'), null);
      assert.equal(await store.length(), 1);
      await store.clear();
      assert.equal(await store.length(), 0);
      assert.deepEqual(await store.all(), []);
    });

    it('prunes expired sessions only, and says how many', async () => {
      const name = uniqueName('prune');
      const store = newStore({ tableName: name, pruneBatchSize: 7 });
      for (let i = 0; i < 20; i++) {
        await store.set(`dead${i}`, { cookie: { expires: new Date(Date.now() - 1000).toISOString() } } as any);
      }
      await store.set('alive', inSeconds(60) as any);
      if (layout === 'partitioned') {
        // Expired rows of a live partition wait for their partition's drop: never read, never deleted.
        assert.equal(await store.pruneSessions(), 0);
        assert.equal((await q(`SELECT count(*)::int AS n FROM ${table(name)}`))[0]!.n, 21);
        assert.equal(await store.length(), 1);
        assert.equal(await store.get('dead0'), null);
        return;
      }
      assert.equal(await store.pruneSessions(), 20);
      const left = await q(`SELECT sid FROM ${table(name)}`);
      assert.deepEqual(
        left.map((r) => r.sid),
        [storedId('alive')],
      );
      const counted = await new Promise((resolve, reject) =>
        store.pruneSessions((e, n) => (e ? reject(e) : resolve(n))),
      );
      assert.equal(counted, 0);
    });

    it('calls every callback exactly once, with errors as well as results', async () => {
      const store = newStore();
      const calls: Record<string, unknown[][]> = { set: [], get: [], bad: [], bigint: [] };
      await new Promise<void>((resolve) => {
        let pending = 4;
        const record =
          (label: string) =>
          (...args: unknown[]) => {
            calls[label]!.push(args);
            if (--pending === 0) setTimeout(resolve, 50);
          };
        store.set('cb', inSeconds(60) as any, record('set'));
        store.get('missing-cb', record('get'));
        store.get('', record('bad'));
        store.set('bad', { n: 10n } as any, record('bigint'));
      });
      assert.deepEqual(
        Object.values(calls).map((c) => c.length),
        [1, 1, 1, 1],
      );
      assert.deepEqual(calls.set![0], [null, undefined]);
      assert.deepEqual(calls.get![0], [null, null]);
      assert.ok(calls.bad![0]![0] instanceof TypeError);
      assert.match(String((calls.bigint![0]![0] as Error).message), /BigInt/);
    });

    it('never calls a callback twice when it throws, and never leaves a rejection unhandled', async () => {
      const store = newStore();
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      const thrown: unknown[] = [];
      const onUncaught = (error: unknown) => thrown.push(error);
      process.on('unhandledRejection', onUnhandled);
      const listeners = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.on('uncaughtException', onUncaught);
      let called = 0;
      try {
        store.get('throwing', () => {
          called++;
          throw new Error('user callback failed');
        });
        void store.destroy(''); // a rejected promise nobody awaits
        // Until the callback's error has surfaced (the first call may wait for a connection: no fixed sleep), then
        // a little longer, for a second call or an unhandled rejection to show up if there were one.
        await eventually(async () => thrown.length > 0, 30_000);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        process.off('unhandledRejection', onUnhandled);
        process.off('uncaughtException', onUncaught);
        for (const l of listeners) process.on('uncaughtException', l);
      }
      assert.equal(called, 1);
      assert.equal(thrown.length, 1, 'the callback error surfaces once, like any Node callback API');
      assert.deepEqual(unhandled, []);
    });

    it('rejects bad input with a clear error and writes nothing', async () => {
      const name = uniqueName('bad');
      const store = newStore({ tableName: name });
      await store.length(); // creates the table
      const circular: any = { ...inSeconds(60) };
      circular.self = circular;
      const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
        ['number sid', () => store.set(42 as any, inSeconds(60) as any), /non-empty string/],
        ['empty sid', () => store.get(''), /non-empty string/],
        ['NUL in sid', () => store.set('a\u0000b', inSeconds(60) as any), /NUL/],
        ['lone surrogate', () => store.set('a\ud800', inSeconds(60) as any), /well-formed/],
        ['long sid', () => store.set('x'.repeat(5000), inSeconds(60) as any), /at most 1024 bytes/],
        ['circular', () => store.set('c', circular), /cannot be stored as JSON/],
        ['BigInt', () => store.set('b', { ...inSeconds(60), n: 1n } as any), /BigInt/],
        ['not an object', () => store.set('n', 'text' as any), /must be an object/],
        ['touch without session', () => store.touch('t', undefined as any), /must be an object/],
      ];
      for (const [label, run, message] of cases) {
        await assert.rejects(run, (error: Error) => error instanceof TypeError && message.test(error.message), label);
      }
      assert.equal((await q(`SELECT count(*)::int AS n FROM ${table(name)}`))[0]!.n, 0);
      await assert.rejects(
        () => newStore({ maxSessionSize: 100 }).set('big', { ...inSeconds(60), blob: 'x'.repeat(200) } as any),
        /maxSessionSize/,
      );
    });

    it('treats a corrupt stored session as missing and logs it', async () => {
      const name = uniqueName('corrupt');
      const store = newStore({ tableName: name });
      await store.length();
      await q(
        `INSERT INTO ${table(name)} (sid, sess, expire) VALUES ($1, '[1,2]', now() + interval '1 hour'), ($2, '42', now() + interval '1 hour')`,
        [storedId('arr'), storedId('num')],
      );
      const before = logged.length;
      assert.equal(await store.get('arr'), null);
      assert.equal(await store.get('num'), null);
      assert.equal(logged.length - before, 2);
      assert.match(String(logged.at(-1)![0]), /corrupt/);
    });

    it('quotes hostile table and schema names as names', async () => {
      const hostile = `x"; DROP TABLE ${suite.schemaName}.victim; --`;
      await q(`CREATE TABLE ${table('victim')} (id int)`);
      const store = newStore({ tableName: hostile });
      await store.set('h', inSeconds(60) as any);
      assert.ok(await store.get('h'));
      assert.equal(
        (await q(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`"${suite.schemaName}"."victim"`]))[0]!.ok,
        true,
      );
    });

    it('keeps two tables in one schema apart, names and all', async () => {
      const one = newStore({ tableName: 'first_sessions' });
      const two = newStore({ tableName: 'second_sessions' });
      const long1 = newStore({ tableName: `${'l'.repeat(60)}_a` });
      const long2 = newStore({ tableName: `${'l'.repeat(60)}_b` });
      await Promise.all([one, two, long1, long2].map((s, i) => s.set(`k${i}`, inSeconds(60) as any)));
      assert.ok(await one.get('k0'));
      assert.equal(await one.get('k1'), null);
      assert.ok(await long2.get('k3'));
    });

    it('creates the table once when many stores start together', async () => {
      const name = uniqueName('race');
      const racers = Array.from({ length: 6 }, () => newStore({ tableName: name }));
      await Promise.all(racers.map((s, i) => s.set(`r${i}`, inSeconds(60) as any)));
      assert.equal(await racers[0]!.length(), 6);
      const [comment] = await q(
        `SELECT obj_description($1::regclass, 'pg_class') AS c, relkind::text AS kind FROM pg_class WHERE oid = $1::regclass`,
        [table(name)],
      );
      assert.equal(comment!.c, 'connect-pg-simple schema 4');
      assert.equal(comment!.kind, layout === 'partitioned' ? 'p' : 'r', 'the layout asked for');
    });

    it('retries a failed table creation on the next call', async () => {
      const missingSchema = uniqueName('later');
      const store = newStore({ schemaName: missingSchema });
      await assert.rejects(
        () => store.get('x'),
        (error: any) => error.code === '3F000',
      );
      await q(`CREATE SCHEMA "${missingSchema}"`);
      try {
        assert.equal(await store.get('x'), null);
        await store.set('x', inSeconds(60) as any);
        assert.ok(await store.get('x'));
      } finally {
        await store.close();
        await q(`DROP SCHEMA "${missingSchema}" CASCADE`);
      }
    });

    it('says clearly when the table is missing and creation is off', async () => {
      const store = newStore({ tableName: uniqueName('absent'), createTableIfMissing: false });
      await assert.rejects(
        () => store.get('x'),
        (error: any) => error.code === '42P01' && /createTableIfMissing/.test(error.message),
      );
    });

    it('refuses a table made by a newer version', async () => {
      const name = uniqueName('future');
      const store = newStore({ tableName: name });
      await store.length();
      await q(`COMMENT ON TABLE ${table(name)} IS 'connect-pg-simple schema 99'`);
      const later = newStore({ tableName: name });
      await assert.rejects(() => later.get('x'), /schema version 99/);
    });

    it('works on a table made by the 10.x table.sql', async () => {
      const name = uniqueName('legacy');
      await q(
        `CREATE TABLE ${table(name)} ("sid" varchar NOT NULL COLLATE "default", "sess" json NOT NULL, "expire" timestamp(6) NOT NULL) WITH (OIDS=FALSE)`,
      );
      await q(
        `ALTER TABLE ${table(name)} ADD CONSTRAINT "${name}_pkey" PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE`,
      );
      await q(`CREATE INDEX "IDX_${name}_expire" ON ${table(name)} ("expire")`);
      const store = newStore({ tableName: name, createTableIfMissing: false });
      await store.set('old', { ...inSeconds(600), user: 'u' } as any);
      assert.deepEqual(((await store.get('old')) as any).user, 'u');
      await store.touch('old', inSeconds(900) as any);
      await store.set('dead', { cookie: { expires: new Date(Date.now() - 1000).toISOString() } } as any);
      assert.equal(await store.pruneSessions(), 1);
      assert.equal(await store.length(), 1);
    });

    it('lists only its own errors in errorLog, and none for normal work', async () => {
      const before = logged.length;
      const store = newStore();
      await store.set('quiet', inSeconds(60) as any);
      await store.get('quiet');
      await store.touch('quiet', inSeconds(60) as any);
      await store.destroy('quiet');
      // Behind a pooler that loses named statements, the switch to unnamed ones is said once (if met).
      const losesNamed = suite.harness.name.startsWith('pgbouncer (');
      const lines = logged
        .slice(before)
        .filter((line) => !(losesNamed && /preparedStatements: false/.test(String(line[0]))));
      assert.deepEqual(lines, []);
    });

    it('turns a stalled statement into a TimeoutError, cancels it on the server, and keeps working', async (t) => {
      if (skippedInProcess(t)) return;
      const name = uniqueName('stall');
      const store = newStore({ tableName: name, operationTimeout: 1500 });
      const other = newStore({ tableName: uniqueName('free'), operationTimeout: 1500 });
      await store.set('kept', inSeconds(600) as any);
      await other.length();
      const lock = await holdTableLock(table(name));
      try {
        // Twice as many operations as the pool (and PgBouncer) has connections.
        const operations: Array<[string, Promise<unknown>]> = [
          ['get', store.get('kept')],
          ['set', store.set('new', inSeconds(600) as any)],
          ['touch', store.touch('kept', inSeconds(900) as any)],
          ['destroy', store.destroy('kept')],
          ['length', store.length()],
          ['all', store.all()],
          ['get', store.get('other')],
          ['set', store.set('new2', inSeconds(600) as any)],
        ];
        const pipelined = suite.harness.storeOptions.pipeline === true;
        for (const [index, [method, operation]] of operations.entries()) {
          await assert.rejects(operation, (error: any) => {
            // On a pipelined connection, the quick statements queued behind the first one out of
            // time may end with its connection instead (see README, Pipelining).
            if (pipelined && index > 0 && error.name !== 'TimeoutError') {
              assert.match(String(error.message), /connection|terminat/i);
              return true;
            }
            assert.equal(error.name, 'TimeoutError');
            assert.equal(error.code, 'ETIMEDOUT');
            assert.match(error.message, new RegExp(`${method}\\(\\) took longer than operationTimeout \\(1500 ms\\)`));
            return true;
          });
        }
        assert.ok(
          await eventually(async () => (await lock.waiting()) === 0, 3000),
          'the stalled statements were cancelled on the server, not left waiting',
        );
        assert.equal(await other.length(), 0, 'connections are free again while the lock is still held');
      } finally {
        await lock.release();
      }
      assert.ok(await store.get('kept'), 'the cancelled destroy did not happen');
      assert.equal(await rowOf('new', name), undefined, 'the cancelled insert did not land later');
      await Promise.all(Array.from({ length: 12 }, (_, i) => store.set(`after${i}`, inSeconds(60) as any)));
      assert.equal(await store.length(), 13);
    });

    it('times out writes stalled one after another, and none of them lands later', async (t) => {
      if (skippedInProcess(t)) return;
      const name = uniqueName('stagger');
      const store = newStore({ tableName: name, operationTimeout: 600 });
      await store.set('a', inSeconds(600) as any);
      const lock = await holdTableLock(table(name));
      const started: Promise<unknown>[] = [];
      try {
        for (let i = 0; i < 4; i++) {
          started.push(store.set(`late${i}`, inSeconds(600) as any));
          await new Promise((r) => setTimeout(r, 150));
        }
        const errors = await Promise.all(
          started.map((operation) =>
            operation.then(
              () => undefined,
              (e: any) => e,
            ),
          ),
        );
        assert.equal(errors[0]?.name, 'TimeoutError', 'the first to run out of time');
        for (const error of errors.slice(1)) {
          // On a pipelined connection, the statements queued behind the one out of time end with
          // its connection; anywhere else, each runs out of time on its own.
          if (suite.harness.storeOptions.pipeline === true && error?.name !== 'TimeoutError') {
            assert.ok(error instanceof Error, 'failed');
          } else {
            assert.equal(error?.name, 'TimeoutError');
            assert.equal(error?.code, 'ETIMEDOUT');
          }
        }
        // (A cancel that comes after the lock is gone may come after the commit: that race is
        // documented. Here the lock is kept until the server has given up every statement.)
        assert.ok(
          await eventually(async () => (await lock.waiting()) === 0, 3000),
          'the stalled statements were ended on the server',
        );
      } finally {
        await lock.release();
      }
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 4; i++) assert.equal(await rowOf(`late${i}`, name), undefined, `late${i} did not land later`);
      assert.ok(await store.get('a'), 'works on once the lock is gone');
    });

    it('is closed after close(), and says so', async () => {
      const store = newStore();
      await store.set('c1', inSeconds(60) as any);
      const pending = store.get('c1');
      await store.close();
      assert.ok(await pending, 'work in flight finished before close resolved');
      await assert.rejects(() => store.get('c1'), /closed/);
      await store.close();
      await suite.harness.probe(); // the user's driver object was not ended
    });
  });
}
