import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { SessionCore } from '../src/core.js';
import connectPgSimple from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { migrationStatement } from '../src/schema/migrate.js';
import { tableNames } from '../src/sql.js';
import { databaseUrl, eventually, uniqueName } from './support/database.js';
import { useDriverStores } from './support/driver-stores.js';
import { inSeconds, storedId } from './support/sessions.js';

/**
 * Sessions per user, on every driver: listing, revoking (all, all but one, one), the user
 * recorded at login and logout, revocation racing a request in flight, every id form,
 * encryption, and a table migrated from schema 2 to 3.
 */

const { PGStore } = connectPgSimple;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const KEY = Buffer.alloc(32, 7);
const PEPPER = 'a pepper of sixteen bytes or more';

const DRIVERS = ['pg', 'pg-pipeline', 'pg-promise', 'postgres', 'pglite'] as const;

/** Every driver on plain tables, and pg on partitioned ones (see docs/scaling.md). */
const RUNS = [...DRIVERS.map((driver) => [driver, 'plain'] as const), ['pg', 'partitioned'] as const];
const PARTITIONED = { partitionBy: { days: 1 }, absoluteTimeout: 30 * 86_400 };

for (const [driverName, layout] of RUNS) {
  describe(`sessions per user over ${driverName}${layout === 'plain' ? '' : `, ${layout} tables`}`, () => {
    let described = 0;
    const suite = useDriverStores(
      driverName,
      `cps_users_${driverName.replace('-', '_')}`,
      {
        describe: (session: Record<string, unknown>) => {
          described++;
          return { device: String(session.device ?? 'unknown') };
        },
        ...(layout === 'partitioned' ? PARTITIONED : {}),
      },
      { nothingLogged: true },
    );
    const { newStore, q, table, logged } = suite;
    const userOf = async (name: string, sid: string, id = storedId(sid)) =>
      (await q(`SELECT user_id FROM ${table(name)} WHERE sid = $1`, [id]))[0]?.user_id as string | null | undefined;

    it("lists a user's live sessions, latest activity first, by handle, with their details", async () => {
      const store = newStore({ tableName: 'listing', ttl: 600 });
      await store.set('phone', { ...inSeconds(600), userId: 'ada', device: 'phone' } as any);
      await store.set('laptop', { ...inSeconds(600), passport: { user: 'ada' }, device: 'laptop' } as any);
      await store.set('other', { ...inSeconds(600), userId: 'bob' } as any);
      await store.set('anonymous', { ...inSeconds(600) } as any);
      await store.set('expired', { ...inSeconds(600), userId: 'ada' } as any);
      await q(`UPDATE ${table('listing')} SET expire = now() - interval '1 second' WHERE sid = $1`, [
        storedId('expired'),
      ]);
      await q(`UPDATE ${table('listing')} SET touched = now() - interval '1 hour' WHERE sid = $1`, [storedId('phone')]);

      const listed = await store.userSessions('ada');
      assert.deepEqual(
        listed.map((s) => [s.handle, s.details]),
        [
          [store.sessionHandle('laptop'), { device: 'laptop' }],
          [store.sessionHandle('phone'), { device: 'phone' }],
        ],
      );
      // With hashed ids (the default), the handle is the stored id: never the cookie's id.
      assert.equal(store.sessionHandle('laptop'), storedId('laptop'));
      const [laptop, phone] = listed;
      for (const s of listed) {
        assert.ok(s.createdAt instanceof Date && s.lastActiveAt instanceof Date && s.expiresAt instanceof Date);
        // One statement wrote both, on the database's clock: the lifetime (ttl), less only the time the write
        // waited for a connection (it counts from the call), never more.
        const lifetime = s.expiresAt.getTime() - s.createdAt.getTime();
        assert.ok(lifetime <= 600_000 && lifetime > 599_000, `expires 600 s after its creation: ${lifetime}`);
      }
      assert.ok(phone!.lastActiveAt.getTime() < laptop!.lastActiveAt.getTime() - 3_000_000, 'the phone was idle');
      assert.deepEqual(await store.userSessions('nobody'), []);
      assert.equal((await store.userSessions('bob')).length, 1);
    });

    it('last activity moves with a touch that writes', async () => {
      const store = newStore({ tableName: 'activity', touchAfter: 0 });
      await store.set('t1', { ...inSeconds(600), userId: 7 } as any);
      await q(`UPDATE ${table('activity')} SET touched = now() - interval '1 hour'`);
      const before = (await store.userSessions(7))[0]!.lastActiveAt.getTime();
      const loaded = (await store.get('t1')) as any;
      // As express-session does on each request: the cookie's expiry starts again.
      loaded.cookie.expires = new Date(Date.now() + 600_000).toISOString();
      await store.touch('t1', loaded);
      const after = (await store.userSessions('7'))[0]!.lastActiveAt.getTime();
      assert.ok(after - before > 3_000_000, 'touched now, not an hour ago');
    });

    it('revokes all of a user’s sessions, all but one (by id or by handle), or one', async () => {
      const store = newStore({ tableName: 'revoking' });
      const sids = ['r1', 'r2', 'r3', 'r4', 'r5'];
      for (const sid of sids) await store.set(sid, { ...inSeconds(600), userId: 'ada' } as any);
      await store.set('bob', { ...inSeconds(600), userId: 'bob' } as any);

      assert.equal(await store.destroyUserSessions('ada', { except: 'r1' }), 4, 'all but the session id r1');
      assert.deepEqual(
        (await store.userSessions('ada')).map((s) => s.handle),
        [store.sessionHandle('r1')],
      );
      for (const sid of sids.slice(1)) assert.equal(await store.get(sid), null, `${sid} is revoked`);

      await store.set('r6', { ...inSeconds(600), userId: 'ada' } as any);
      assert.equal(await store.destroyUserSessions('ada', { except: store.sessionHandle('r6') }), 1, 'by handle');
      assert.equal(await store.get('r1'), null);
      assert.notEqual(await store.get('r6'), null);

      assert.equal(await store.destroySession(store.sessionHandle('r6'), { userId: 'bob' }), false, "not bob's");
      assert.notEqual(await store.get('r6'), null);
      assert.equal(await store.destroySession(store.sessionHandle('r6'), { userId: 'ada' }), true);
      assert.equal(await store.get('r6'), null);
      assert.equal(await store.destroySession(store.sessionHandle('r6')), false, 'already gone');

      assert.equal(await store.destroySession(store.sessionHandle('bob')), true, 'without userId: any session');
      assert.equal(await store.destroyUserSessions('ada'), 0);
      assert.equal(await store.length(), 0);
    });

    it('takes callbacks as well as promises', async () => {
      const store = newStore({ tableName: 'callbacks' });
      await store.set('c1', { ...inSeconds(600), userId: 1 } as any);
      await store.set('c2', { ...inSeconds(600), userId: 1 } as any);
      const listed = await new Promise<unknown[]>((resolve, reject) =>
        store.userSessions(1, (error, sessions) => (error ? reject(error) : resolve(sessions!))),
      );
      assert.equal(listed.length, 2);
      const revoked = await new Promise<number>((resolve, reject) =>
        store.destroyUserSessions(1, { except: 'c1' }, (error, n) => (error ? reject(error) : resolve(n!))),
      );
      assert.equal(revoked, 1);
      const one = await new Promise<boolean>((resolve, reject) =>
        store.destroySession(store.sessionHandle('c1'), { userId: 1 }, (error, done) =>
          error ? reject(error) : resolve(done!),
        ),
      );
      assert.equal(one, true);
      const none = await new Promise<number>((resolve, reject) =>
        store.destroyUserSessions(1, (error, n) => (error ? reject(error) : resolve(n!))),
      );
      assert.equal(none, 0);
      const refused = await new Promise<unknown>((resolve) => store.userSessions({} as any, resolve));
      assert.ok(refused instanceof TypeError && /userSessions\(\) takes a user id/.test(refused.message));
    });

    it('records the user at login and logout only, whatever else the session changes', async () => {
      const store = newStore({ tableName: 'login' });
      described = 0;
      await store.set('s', { ...inSeconds(600), views: 1 } as any);
      assert.equal(await userOf('login', 's'), null);
      assert.equal(described, 1, 'a new session is described');

      // Login in place (the same id): the loaded session's user changes.
      let loaded = (await store.get('s')) as any;
      await store.set('s', { ...loaded, userId: 'ada', device: 'tablet' });
      assert.equal(await userOf('login', 's'), 'ada');
      assert.deepEqual((await store.userSessions('ada'))[0]!.details, { device: 'tablet' });
      assert.equal(described, 2, 'a login describes the session again');

      // The hot path: the same user, other keys; no user write, no describe.
      loaded = (await store.get('s')) as any;
      await store.set('s', { ...loaded, views: 2, device: 'ignored' });
      await store.touch('s', loaded);
      assert.equal(described, 2);
      assert.deepEqual((await store.userSessions('ada'))[0]!.details, { device: 'tablet' });

      // Logout: the key is deleted; the session is no longer the user's.
      loaded = (await store.get('s')) as any;
      const { userId: _gone, ...loggedOut } = loaded;
      await store.set('s', loggedOut);
      assert.equal(await userOf('login', 's'), null);
      assert.deepEqual(await store.userSessions('ada'), []);

      // Login with regenerate: the old session destroyed, a new one written with its user at once.
      await store.destroy('s');
      await store.set('s2', { ...inSeconds(600), userId: 'ada', device: 'phone' } as any);
      assert.equal(await userOf('login', 's2'), 'ada');
      assert.deepEqual(
        (await store.userSessions('ada')).map((s) => s.handle),
        [store.sessionHandle('s2')],
      );
    });

    it('a revocation is final for a request of the revoked session still in flight', async () => {
      for (const readCache of [false, 60_000]) {
        const store = newStore({ tableName: 'race', readCache });
        const elsewhere = newStore({ tableName: 'race' });
        await store.set('victim', { ...inSeconds(600), userId: 'ada' } as any);
        await store.set('kept', { ...inSeconds(600), userId: 'ada' } as any);
        const inFlight = (await store.get('victim')) as any;
        assert.notEqual(await store.get('victim'), null);

        assert.equal(await elsewhere.destroyUserSessions('ada', { except: 'kept' }), 1);
        assert.equal(await store.destroyUserSessions('ada', { except: 'kept' }), 0, 'already revoked');
        // The request that loaded it before the revocation writes, touches, changes its user.
        await store.set('victim', { ...inFlight, page: 2 });
        await store.touch('victim', inFlight);
        await store.set('victim', { ...inFlight, userId: 'mallory' });
        assert.equal(await userOf('race', 'victim'), undefined, `no row comes back (readCache: ${readCache})`);
        assert.equal(await store.get('victim'), null);
        assert.notEqual(await store.get('kept'), null);

        // This process's own revocation: its read cache does not answer for the revoked session.
        const cachedNow = (await store.get('kept')) as any;
        assert.equal(await store.destroySession(store.sessionHandle('kept'), { userId: 'ada' }), true);
        assert.equal(await store.get('kept'), null);
        await store.set('kept', { ...cachedNow, page: 3 });
        assert.equal(await store.get('kept'), null);
        await store.clear();
      }
    });

    it('hands out handles that are never the cookie’s id, for every id form', async () => {
      const forms = [
        { tableName: 'ids_plain', hashSessionIds: false },
        { tableName: 'ids_hmac', sessionIdPepper: PEPPER },
      ];
      for (const options of forms) {
        const store = newStore(options);
        await store.set('sid-1', { ...inSeconds(600), userId: 'ada' } as any);
        await store.set('sid-2', { ...inSeconds(600), userId: 'ada' } as any);
        const handle = store.sessionHandle('sid-1');
        assert.notEqual(handle, 'sid-1');
        const [stored] = await q(`SELECT sid FROM ${table(options.tableName)} WHERE user_id = 'ada' ORDER BY sid`);
        if (options.hashSessionIds === false) {
          assert.equal(handle, sha256('sid-1'), 'plain ids: the handle is the id’s SHA-256');
          assert.equal(stored!.sid, 'sid-1', 'and the table still holds the id');
        } else {
          assert.notEqual(handle, storedId('sid-1'), 'HMAC ids: the handle is the keyed hash');
          assert.ok((await q(`SELECT 1 FROM ${table(options.tableName)} WHERE sid = $1`, [handle])).length === 1);
        }
        assert.deepEqual(
          (await store.userSessions('ada')).map((s) => s.handle).sort(),
          [handle, store.sessionHandle('sid-2')].sort(),
        );
        assert.equal(await store.get(handle), null, 'a handle does not work as a session id');
        assert.equal(await store.destroyUserSessions('ada', { except: handle }), 1);
        assert.equal(await store.destroySession(handle, { userId: 'ada' }), true);
        assert.equal(await store.length(), 0);
      }
    });

    it('encrypts the details with the session: the table does not show them', async () => {
      const store = newStore({ tableName: 'encrypted', encryptionKeys: KEY });
      await store.set('e1', { ...inSeconds(600), userId: 'ada', device: 'Firefox on Linux' } as any);
      const [row] = await q(`SELECT user_id, details::text AS details, sess::text AS sess FROM ${table('encrypted')}`);
      assert.equal(row!.user_id, 'ada', 'the user id is stored as it is, to be found');
      assert.doesNotMatch(row!.details, /Firefox/);
      assert.doesNotMatch(row!.sess, /Firefox/);
      assert.deepEqual((await store.userSessions('ada'))[0]!.details, { device: 'Firefox on Linux' });

      // Details copied to another row do not decrypt there: left out, and logged.
      await store.set('e2', { ...inSeconds(600), userId: 'ada', device: 'other' } as any);
      await q(
        `UPDATE ${table('encrypted')} SET details = (SELECT details FROM ${table('encrypted')} WHERE sid = $1) WHERE sid = $2`,
        [storedId('e1'), storedId('e2')],
      );
      const listed = await store.userSessions('ada');
      assert.deepEqual(listed.find((s) => s.handle === store.sessionHandle('e2'))!.details, null);
      assert.equal(logged.splice(0).length, 1);
    });

    it('checks userId and describe, and what they return', async () => {
      assert.throws(() => newStore({ userId: 'userId' }), /option "userId" must be a function/);
      assert.throws(() => newStore({ describe: {} }), /option "describe" must be a function/);
      const badUser = newStore({ tableName: 'checks', userId: () => ({ id: 1 }) });
      await assert.rejects(badUser.set('x', { ...inSeconds(600) } as any), /option "userId" must return/);
      const big = newStore({ tableName: 'checks', describe: () => ({ ua: 'x'.repeat(2000) }) });
      await assert.rejects(big.set('x', { ...inSeconds(600) } as any), /more than 1024/);
      const nested = newStore({ tableName: 'checks', describe: () => ({ ua: { nested: true } }) });
      await assert.rejects(nested.set('x', { ...inSeconds(600) } as any), /its "ua" is an object/);
      const store = newStore({ tableName: 'checks' });
      await assert.rejects(store.userSessions('' as any), /userSessions\(\) takes a user id/);
      await assert.rejects(store.destroySession(42 as any), /destroySession\(\) takes a handle/);
      await assert.rejects(
        store.destroyUserSessions('ada', { except: '' }),
        /destroyUserSessions\(\) takes as "except"/,
      );
      assert.throws(() => store.sessionHandle(''), /non-empty string/);
      await store.set('mine', { ...inSeconds(600), userId: 'ada' } as any);
      await assert.rejects(
        store.destroySession(store.sessionHandle('mine'), { userId: undefined }),
        /destroySession\(\) was given userId undefined/,
      );
      assert.notEqual(await store.get('mine'), null, 'an absent user revokes nothing');
      await store.destroy('mine');
      assert.equal(await store.length(), 0, 'nothing was written');
    });

    const schema2Table = async (name: string) => {
      await q(`CREATE TABLE ${table(name)} (
  "sid" text COLLATE "C" NOT NULL PRIMARY KEY,
  "sess" json NOT NULL,
  "expire" timestamptz(6) NOT NULL,
  "created" timestamptz(6) NOT NULL DEFAULT now()
)`);
      await q(`COMMENT ON COLUMN ${table(name)}."sid" IS 'connect-pg-simple session ids: sha256'`);
      await q(`COMMENT ON TABLE ${table(name)} IS 'connect-pg-simple schema 2'`);
    };
    const migrateTo3 = (name: string) =>
      q(migrationStatement(tableNames(name, suite.schemaName), 2, { legacyTimeZone: 'UTC', idForm: 'sha256' }).sql);

    it('a store running on a schema 2 table notices its migration by itself, within a minute', async () => {
      await schema2Table('noticed');
      let now = 0;
      const options = resolveOptions({
        ...suite.harness.storeOptions,
        schemaName: suite.schemaName,
        tableName: 'noticed',
        pruneSessionInterval: false,
      });
      const core = new SessionCore(options, { requireCookie: false, now: () => now });
      try {
        await core.save('a', { ...inSeconds(600), userId: 'ada' }, undefined);
        await migrateTo3('noticed');
        await core.save('b', { ...inSeconds(600), userId: 'ada' }, undefined);
        assert.equal(await userOf('noticed', 'b'), null, 'the store still writes as on schema 2');
        now += 61_000;
        await core.load('a');
        assert.ok(
          await eventually(async () => {
            await core.save(`c${now++}`, { ...inSeconds(600), userId: 'ada' }, undefined);
            return (await q(`SELECT 1 FROM ${table('noticed')} WHERE user_id = 'ada'`)).length > 0;
          }, 10_000),
          'new sessions get their user once the store has looked again',
        );
        const loaded = (await core.load('a'))!;
        await core.refresh('a', loaded.session, loaded.receipt);
        assert.equal(await userOf('noticed', 'a'), 'ada', 'and older ones at their next request');
      } finally {
        await core.close();
      }
    });

    it('works on a schema 2 table as before, and lists sessions once it is migrated to 3', async () => {
      const name = 'old';
      await schema2Table(name);
      // A table made by hand: partitionBy (which would say so in errorLog) has nothing to shape.
      // readCache: false: a get answered from memory right after a touch recorded the user would record it again.
      const store = newStore({
        tableName: name,
        createTableIfMissing: false,
        partitionBy: undefined,
        readCache: false,
      });
      await store.set('before', { ...inSeconds(600), userId: 'ada', n: 1 } as any);
      await store.set('quiet', { ...inSeconds(600), userId: 'ada' } as any);
      const loaded = (await store.get('before')) as any;
      await store.set('before', { ...loaded, n: 2 });
      assert.equal(((await store.get('before')) as any).n, 2);
      await assert.rejects(
        store.userSessions('ada'),
        (error: Error) =>
          error.name === 'SchemaError' &&
          /schema version 3/.test(error.message) &&
          /npx connect-pg-simple migrate/.test(error.message),
      );

      await migrateTo3(name);
      assert.equal(((await store.get('before')) as any).n, 2, 'the session is still readable');
      // The store looks at the table again: the migration happened while it ran.
      assert.deepEqual(await store.userSessions('ada'), [], 'written before the migration: no user recorded');
      const after = (await store.get('before')) as any;
      await store.set('before', { ...after, n: 3 });
      assert.equal(await userOf(name, 'before'), 'ada', 'recorded by the next write that changes the session');
      assert.equal((await store.userSessions('ada')).length, 1);
      // A request that only reads its session (express-session then touches it) records its user too, once.
      described = 0;
      const quiet = (await store.get('quiet')) as any;
      await store.touch('quiet', quiet);
      assert.equal(await userOf(name, 'quiet'), 'ada');
      const again = (await store.get('quiet')) as any;
      await store.touch('quiet', again);
      await store.set('quiet', again);
      assert.equal(described, 1, 'recorded once: later requests of the session write no user');
      assert.equal((await store.userSessions('ada')).length, 2);
      const [index] = await q(
        `SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 AND indexdef LIKE '%(user_id) WHERE (user_id IS NOT NULL)%'`,
        [suite.schemaName, name],
      );
      assert.equal(index!.n, 1, 'the partial index on user_id');
    });
  });
}

describe('sessions per user on the request cycle', () => {
  let pool: pg.Pool;
  let schemaName: string;
  before(async () => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    schemaName = uniqueName('cps_users_cycle');
    await pool.query(`CREATE SCHEMA "${schemaName}"`);
  });
  after(async () => {
    await pool.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await pool.end();
  });

  it('sends the statements it sent before on the hot path; a login or logout adds one', async () => {
    const sent: string[] = [];
    const counting = {
      query: (text: string, values: unknown[]) => {
        sent.push(/^(\w+)/.exec(text)?.[1] === 'UPDATE' && /SET user_id/.test(text) ? 'set user' : text.split(' ')[0]!);
        return pool.query(text, values);
      },
    };
    const store = new PGStore({
      pool: counting,
      preparedStatements: false,
      schemaName,
      createTableIfMissing: true,
      pruneSessionInterval: false,
    });
    try {
      await store.set('s', { ...inSeconds(600), userId: 'ada', views: 0 } as any);
      sent.length = 0;
      // A request that reads, changes a key and is touched: get, one update; the touch is lazy.
      let loaded = (await store.get('s')) as any;
      await store.set('s', { ...loaded, views: 1 });
      await store.touch('s', loaded);
      loaded = (await store.get('s')) as any;
      await store.touch('s', loaded);
      assert.deepEqual(sent, ['SELECT', 'UPDATE', 'SELECT']);
      sent.length = 0;
      loaded = (await store.get('s')) as any;
      await store.set('s', { ...loaded, userId: 'bob' });
      assert.deepEqual(sent, ['SELECT', 'UPDATE', 'set user'], 'a change of user: one statement more');
      sent.length = 0;
      loaded = (await store.get('s')) as any;
      await store.set('s', { ...loaded, views: 2 });
      assert.deepEqual(sent, ['SELECT', 'UPDATE'], 'and only once');
    } finally {
      await store.close();
    }
  });
});
