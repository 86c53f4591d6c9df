import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pgPromise from 'pg-promise';
import { PGStore } from '../src/index.js';
import { storedIdFunction } from '../src/session-id.js';
import { databaseUrl, uniqueName } from './support/database.js';
import { useDriverStores, useSchemaStores } from './support/driver-stores.js';
import { type DriverHarness, drivers } from './support/drivers.js';
import { inSeconds, pastTheCacheBound, storedId } from './support/sessions.js';

/**
 * Security at rest and session lifetimes (schema 2): hashed ids, encryption, the absolute timeout.
 * Every time here is the database's: rows are aged with SQL, never with an app clock.
 */

const key = () => randomBytes(32);
const SECRET = 'the-oauth-token-nobody-may-read';

for (const driverName of ['pg', 'postgres', 'pglite'] as const) {
  describe(`security at rest over ${driverName}`, () => {
    const logged: string[] = [];
    const suite = useDriverStores(driverName, `cps_security_${driverName}`, {
      errorLog: (...args: unknown[]) => logged.push(args.map(String).join(' ')),
    });
    const { newStore, q, table } = suite;
    const rowsOf = async (name: string) => q(`SELECT sid, sess::text AS sess FROM ${table(name)} ORDER BY sid`);

    it('stores the SHA-256 of each session id, never the id, by default', async () => {
      const name = uniqueName('hashed');
      const store = newStore({ tableName: name });
      await store.set('cookie-id-1', inSeconds(60, { user: 1 }) as any);
      const rows = await rowsOf(name);
      assert.deepEqual(
        rows.map((r) => r.sid),
        [storedId('cookie-id-1')],
      );
      assert.ok(!rows.some((r) => r.sid.includes('cookie-id')), 'no plain id in the table');
      assert.equal(((await store.get('cookie-id-1')) as any).user, 1);
      const [comment] = await q(`SELECT col_description($1::regclass, 1) AS c`, [table(name)]);
      assert.equal(comment!.c, 'connect-pg-simple session ids: sha256');
    });

    it('keys the hash with sessionIdPepper; stores configured otherwise refuse the table', async () => {
      const name = uniqueName('peppered');
      const pepper = 'a pepper of more than sixteen bytes';
      const store = newStore({ tableName: name, sessionIdPepper: pepper });
      await store.set('p1', inSeconds(60, { user: 2 }) as any);
      const [row] = await rowsOf(name);
      assert.equal(row!.sid, storedIdFunction('hmac-sha256', Buffer.from(pepper))('p1'));
      assert.notEqual(row!.sid, storedId('p1'));
      assert.equal(((await newStore({ tableName: name, sessionIdPepper: pepper }).get('p1')) as any).user, 2);
      await assert.rejects(
        () => newStore({ tableName: name }).get('p1'),
        (error: any) =>
          error.name === 'SchemaError' && /stores session ids as hmac-sha256.*sessionIdPepper/.test(error.message),
      );
      await assert.rejects(
        () => newStore({ tableName: name, hashSessionIds: false }).get('p1'),
        /stores session ids as hmac-sha256/,
      );
    });

    it('a store with another sessionIdPepper refuses a table of hmac-sha256 ids, one from before the pepper was recorded too', async () => {
      const name = uniqueName('pepper_mismatch');
      const pepper = 'a pepper of more than sixteen bytes';
      const otherPepper = 'another pepper, just as long';
      await newStore({ tableName: name, sessionIdPepper: pepper }).set('p1', inSeconds(60, { user: 2 }) as any);
      const refused = (error: any) =>
        error.name === 'SchemaError' &&
        /stores session ids keyed with another sessionIdPepper .*Give every store that uses the table the same sessionIdPepper/.test(
          error.message,
        );
      await assert.rejects(() => newStore({ tableName: name, sessionIdPepper: otherPepper }).get('p1'), refused);
      await assert.rejects(
        () => newStore({ tableName: name, sessionIdPepper: otherPepper }).set('p1', inSeconds(60) as any),
        refused,
      );
      // A table made before the pepper's id was recorded says only hmac-sha256: the first store with a pepper records its own.
      await q(`COMMENT ON COLUMN ${table(name)}.sid IS 'connect-pg-simple session ids: hmac-sha256'`);
      assert.equal(((await newStore({ tableName: name, sessionIdPepper: pepper }).get('p1')) as any).user, 2);
      await assert.rejects(() => newStore({ tableName: name, sessionIdPepper: otherPepper }).get('p1'), refused);
      assert.equal((await rowsOf(name)).length, 1, 'no second row for the same cookie');
    });

    it('with hashSessionIds: false, stores ids as given', async () => {
      const name = uniqueName('plain');
      const store = newStore({ tableName: name, hashSessionIds: false });
      await store.set('visible', inSeconds(60) as any);
      assert.deepEqual(
        (await rowsOf(name)).map((r) => r.sid),
        ['visible'],
      );
      assert.deepEqual(
        (await store.all()).map((s: any) => s.id),
        ['visible'],
      );
    });

    it('absoluteTimeout ends a session that long after its creation, however active, on the database clock', async () => {
      const name = uniqueName('absolute');
      const store = newStore({ tableName: name, absoluteTimeout: 3600 });
      await store.set('busy', inSeconds(600, { n: 1 }) as any);
      const age = (seconds: number) =>
        q(`UPDATE ${table(name)} SET created = now() - make_interval(secs => $2) WHERE sid = $1`, [
          storedId('busy'),
          seconds,
        ]);
      // Created 59 minutes ago: the idle timeout says 10 minutes, the absolute one 1 minute.
      await age(3540);
      const loaded = (await store.get('busy')) as any;
      assert.equal(loaded.n, 1);
      const leftMs = Date.parse(loaded.cookie.expires) - Date.now();
      assert.ok(leftMs > 30_000 && leftMs <= 61_000, `cookie.expires tells the absolute end: ${leftMs} ms`);
      // A write keeps the row's expiry within the absolute end.
      loaded.n = 2;
      await store.set('busy', loaded);
      const [row] = await q(
        `SELECT extract(epoch FROM expire - created)::float8 AS span FROM ${table(name)} WHERE sid = $1`,
        [storedId('busy')],
      );
      assert.ok(row!.span <= 3600.001, `expiry clamped at created + absoluteTimeout: ${row!.span}`);
      // Past the absolute end: gone for get, touch and set, however recently it was used.
      await age(3601);
      await q(`UPDATE ${table(name)} SET expire = now() + interval '10 minutes' WHERE sid = $1`, [storedId('busy')]);
      await pastTheCacheBound();
      assert.equal(await store.get('busy'), null);
      await store.touch('busy', loaded);
      loaded.n = 3;
      await store.set('busy', loaded);
      assert.equal(await store.length(), 0);
      assert.deepEqual(await store.all(), []);
      const [kept] = await q(`SELECT sess::text AS sess FROM ${table(name)} WHERE sid = $1`, [storedId('busy')]);
      assert.equal(JSON.parse(kept!.sess).n, 2, 'the write of a session past its absolute end wrote nothing');
      // A new session (regenerate: a write without a loaded receipt) starts the clock again.
      await store.set('busy', inSeconds(600, { n: 4 }) as any);
      assert.equal(((await store.get('busy')) as any).n, 4);
    });

    it('the idle timeout is enforced on the database clock', async () => {
      const name = uniqueName('idle');
      const store = newStore({ tableName: name, absoluteTimeout: 86_400 });
      await store.set('idle', inSeconds(600) as any);
      await q(`UPDATE ${table(name)} SET expire = now() - interval '1 millisecond' WHERE sid = $1`, [storedId('idle')]);
      assert.equal(await store.get('idle'), null);
    });

    it('encrypts stored sessions: the table shows no session data', async () => {
      const name = uniqueName('encrypted');
      const store = newStore({ tableName: name, encryptionKeys: [key()] });
      await store.set('e1', inSeconds(60, { token: SECRET }) as any);
      const [row] = await rowsOf(name);
      assert.ok(!row!.sess.includes(SECRET) && !row!.sess.includes('cookie'), 'no readable session data');
      assert.match(row!.sess, /^"cps:v1:[0-9a-f]{8}:[A-Za-z0-9+/=]+"$/);
      assert.equal(((await store.get('e1')) as any).token, SECRET);
      assert.equal(((await store.all()) as any)[0].token, SECRET);
    });

    it('two instances with rotated key lists read each other’s sessions', async () => {
      const name = uniqueName('rotated');
      const [oldKey, newKey] = [key(), key()];
      const before = newStore({ tableName: name, encryptionKeys: [oldKey, newKey] });
      const after = newStore({ tableName: name, encryptionKeys: [newKey.toString('base64'), oldKey] });
      await before.set('r1', inSeconds(60, { by: 'before' }) as any);
      await after.set('r2', inSeconds(60, { by: 'after' }) as any);
      assert.equal(((await after.get('r1')) as any).by, 'before');
      assert.equal(((await before.get('r2')) as any).by, 'after');
    });

    it('a tampered, truncated, moved or unknown-key row is a miss and a log line, never a crash', async () => {
      const name = uniqueName('tampered');
      const k = key();
      const store = newStore({ tableName: name, encryptionKeys: [k] });
      for (const sid of ['tampered', 'truncated', 'moved-from', 'unknown']) {
        await store.set(sid, inSeconds(60, { token: SECRET }) as any);
      }
      const setSess = (sid: string, sql: string) =>
        q(`UPDATE ${table(name)} SET sess = (${sql})::json WHERE sid = $1`, [storedId(sid)]);
      // One base64 character changed in the middle of the ciphertext.
      await setSess(
        'tampered',
        `SELECT to_json(overlay(sess #>> '{}' placing CASE WHEN substr(sess #>> '{}', 40, 1) = 'A' THEN 'B' ELSE 'A' END from 40 for 1)) FROM ${table(name)} WHERE sid = $1`,
      );
      await setSess('truncated', `SELECT to_json(left(sess #>> '{}', 30)) FROM ${table(name)} WHERE sid = $1`);
      await q(
        `INSERT INTO ${table(name)} (sid, sess, expire) SELECT $2, sess, expire FROM ${table(name)} WHERE sid = $1`,
        [storedId('moved-from'), storedId('moved-to')],
      );
      const other = newStore({ tableName: name, encryptionKeys: [key()] });
      const before = logged.length;
      for (const sid of ['tampered', 'truncated', 'moved-to']) assert.equal(await store.get(sid), null, sid);
      assert.equal(await other.get('unknown'), null, 'unknown key');
      assert.ok(await store.get('moved-from'), 'the original row still decrypts');
      const lines = logged.slice(before);
      assert.equal(lines.length, 4);
      assert.ok(lines.every((line) => /could not be decrypted/.test(line) && !line.includes(SECRET)));
      assert.match(lines[3]!, /a key not in encryptionKeys/);
    });

    it('a store without encryptionKeys reads an encrypted row as missing, and its details as null, and says why', async () => {
      const name = uniqueName('keyless');
      const DEVICE = 'the-device-nobody-may-read';
      const describeSession = (session: Record<string, unknown>) => ({ device: String(session.device) });
      const keyed = newStore({ tableName: name, encryptionKeys: [key()], describe: describeSession });
      await keyed.set('k1', inSeconds(60, { userId: 'ada', token: SECRET, device: DEVICE }) as any);
      assert.equal(((await keyed.get('k1')) as any).token, SECRET);
      assert.deepEqual(
        (await keyed.userSessions('ada')).map((s) => s.details),
        [{ device: DEVICE }],
      );
      const [row] = await q(`SELECT sess::text AS sess, details::text AS details FROM ${table(name)}`);
      assert.match(row!.sess, /^"cps:v1:/, 'the session is stored encrypted');
      assert.match(row!.details, /^"cps:v1:/, 'and so are its details');

      const keyless = newStore({ tableName: name, describe: describeSession });
      const before = logged.length;
      assert.equal(await keyless.get('k1'), null);
      const listed = await keyless.userSessions('ada');
      assert.equal(listed.length, 1, 'the session is still listed for its user');
      assert.equal(listed[0]!.handle, keyed.sessionHandle('k1'));
      assert.equal(listed[0]!.details, null);
      const lines = logged.slice(before);
      assert.equal(lines.length, 2, lines.join('\n'));
      assert.match(
        lines[0]!,
        /a stored session could not be decrypted.*stored session is encrypted, and encryptionKeys is not set/,
      );
      assert.match(
        lines[1]!,
        /the details of a session could not be read.*stored details are encrypted, and encryptionKeys is not set/,
      );
      for (const line of lines) {
        assert.ok(!line.includes(SECRET) && !line.includes(DEVICE) && !line.includes('cps:v1:'), line);
      }
      assert.equal(((await keyed.get('k1')) as any).token, SECRET, 'the row is left as it was');
    });

    it('encrypted sessions: concurrent requests keep each other’s keys, and a logout stays final', async () => {
      const name = uniqueName('merged');
      const store = newStore({ tableName: name, encryptionKeys: [key()] });
      await store.set('m', inSeconds(600, { a: 0, b: 0, c: 'kept' }) as any);
      const [one, two] = [(await store.get('m')) as any, (await store.get('m')) as any];
      one.a = 1;
      two.b = 2;
      delete two.c;
      await store.set('m', one);
      await store.set('m', two);
      const merged = (await store.get('m')) as any;
      assert.deepEqual([merged.a, merged.b, 'c' in merged], [1, 2, false]);
      // A request that loaded the session before the logout does not bring it back.
      const late = (await store.get('m')) as any;
      await store.destroy('m');
      late.a = 'late';
      await store.set('m', late);
      assert.equal(await store.get('m'), null);
      assert.equal((await rowsOf(name)).length, 0);
    });

    it('a lazy touch of an encrypted session writes nothing', async () => {
      const name = uniqueName('lazy');
      const store = newStore({ tableName: name, encryptionKeys: [key()] });
      await store.set('t', inSeconds(600, { a: 1 }) as any);
      const [before] = await rowsOf(name);
      const loaded = (await store.get('t')) as any;
      await store.set('t', loaded);
      await store.touch('t', loaded);
      const [after] = await rowsOf(name);
      assert.equal(after!.sess, before!.sess);
    });
  });
}

describe('security options are checked at construction', () => {
  const base = { pool: { query: async () => [] } };
  it('wrong key material is a TypeError naming encryptionKeys, never showing the key', () => {
    const short = randomBytes(16).toString('base64');
    for (const [value, pattern] of [
      [randomBytes(16), /16-byte Buffer/],
      [short, /base64 of 16 bytes/],
      ['not base64 at all!', /not base64/],
      [[], /empty array/],
      [[randomBytes(32), 42], /a number \(key 2\)/],
    ] as const) {
      assert.throws(
        () => new PGStore({ ...base, encryptionKeys: value as any }),
        (error: any) =>
          error instanceof TypeError &&
          /option "encryptionKeys" must be one or more 32-byte keys/.test(error.message) &&
          pattern.test(error.message) &&
          !error.message.includes(short),
      );
    }
  });
  it('a short pepper, a pepper with hashSessionIds: false, and a bad absoluteTimeout are refused', () => {
    assert.throws(
      () => new PGStore({ ...base, sessionIdPepper: 'short' }),
      /"sessionIdPepper" must be .* at least 16 bytes/,
    );
    assert.throws(
      () => new PGStore({ ...base, sessionIdPepper: 'x'.repeat(32), hashSessionIds: false }),
      /remove one of them/,
    );
    assert.throws(() => new PGStore({ ...base, absoluteTimeout: 0 }), /"absoluteTimeout" must be a number > 0/);
    assert.throws(() => new PGStore({ ...base, absoluteTimeout: 3_600_000_000 }), /"absoluteTimeout" is in seconds/);
  });
});

describe('upgrading a version-1 table logs nobody out', () => {
  let harness: DriverHarness;
  let schemaName: string;
  const q = (text: string, values?: unknown[]) => harness.admin.query(text, values);

  before(async () => {
    harness = await drivers.pg!();
    schemaName = uniqueName('cps_security_upgrade');
    await q(`CREATE SCHEMA "${schemaName}"`);
  });
  after(async () => {
    await q(`DROP SCHEMA "${schemaName}" CASCADE`);
    await harness.close();
  });

  it('a store keeps serving a version-1 table through its migration, and every cookie finds its session after', async () => {
    const t = `"${schemaName}"."session"`;
    // The table as schema 1 made it.
    await q(`CREATE TABLE ${t} ("sid" text COLLATE "C" NOT NULL, "sess" json NOT NULL, "expire" timestamptz(6) NOT NULL,
      CONSTRAINT "session_pkey" PRIMARY KEY ("sid")) WITH (fillfactor = 90)`);
    await q(`CREATE INDEX "session_expire_idx" ON ${t} ("expire")`);
    await q(`COMMENT ON TABLE ${t} IS 'connect-pg-simple schema 1'`);
    const logged: string[] = [];
    const options = { ...harness.storeOptions, schemaName, pruneSessionInterval: false };
    const running = new PGStore({
      ...options,
      absoluteTimeout: 86_400,
      errorLog: (...args: unknown[]) => logged.push(args.map(String).join(' ')),
    } as any);
    for (let i = 0; i < 10; i++) await running.set(`old-${i}`, inSeconds(600, { i }) as any);
    assert.equal(logged.length, 1);
    assert.match(
      logged[0]!,
      /schema version 1: session ids are stored as given, not hashed, and absoluteTimeout is not enforced until it is migrated/,
    );
    assert.ok(
      (await q(`SELECT sid FROM ${t}`)).some((r) => r.sid === 'old-0'),
      'plain ids before the migration',
    );
    const loaded = (await running.get('old-1')) as any;

    const { migrate } = await import('../src/schema/migrate.js');
    const { databaseOf } = await import('./support/legacy.js');
    const { tableNames } = await import('../src/sql.js');
    const result = await migrate(databaseOf(harness.storeOptions.pool as any), tableNames('session', schemaName));
    assert.deepEqual([result.from, result.to], [1, 4]);
    const ids = (await q(`SELECT sid FROM ${t}`)).map((r) => r.sid as string);
    assert.deepEqual(ids.sort(), Array.from({ length: 10 }, (_, i) => storedId(`old-${i}`)).sort());

    // The store that checked the table before the migration still finds, updates and creates sessions.
    assert.equal(((await running.get('old-0')) as any).i, 0);
    loaded.changed = true;
    await running.set('old-1', loaded);
    await running.set('new-during', inSeconds(600, { n: 1 }) as any);
    assert.ok(
      (await q(`SELECT sid FROM ${t}`)).every((r) => /^[0-9a-f]{64}$/.test(r.sid)),
      'what it wrote after the migration has hashed ids too',
    );
    // A store started after the migration reads every session by its cookie.
    const upgraded = new PGStore({ ...options, absoluteTimeout: 86_400 } as any);
    for (let i = 0; i < 10; i++) assert.equal(((await upgraded.get(`old-${i}`)) as any)?.i, i, `old-${i}`);
    assert.equal(((await upgraded.get('old-1')) as any).changed, true);
    assert.equal(((await upgraded.get('new-during')) as any).n, 1);
    await Promise.all([running.close(), upgraded.close()]);
  });
});

describe('the idle timeout counts from the write, not from when a connection was free', () => {
  const { newStore, admin, table } = useSchemaStores('cps_idle_wait');
  const pgp = pgPromise({ noWarnings: true });
  const pools = {
    pg: () => {
      const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
      return { storeOptions: { pool }, busy: () => pool.query('SELECT pg_sleep(0.5)'), end: () => pool.end() };
    },
    'pg-promise': () => {
      const db = pgp({ connectionString: databaseUrl(), max: 1 });
      return { storeOptions: { pgPromise: db }, busy: () => db.any('SELECT pg_sleep(0.5)'), end: () => db.$pool.end() };
    },
  };
  for (const [name, open] of Object.entries(pools)) {
    it(`a write that waited for the one connection of a ${name} pool ends that much sooner`, async () => {
      const { storeOptions, busy, end } = open();
      const tableName = `waited_${name.replace('-', '_')}`;
      const store = newStore({ ...storeOptions, tableName, ttl: 3600 });
      try {
        await store.set('warm', inSeconds(60) as any); // the table exists before the pool is held
        const held = busy();
        const calledAt = performance.now();
        const written = store.set('w', inSeconds(60) as any);
        await held;
        const waitedSeconds = (performance.now() - calledAt) / 1000;
        await written;
        const [row] = await admin.query(
          `SELECT extract(epoch FROM expire - now())::float8 AS left FROM ${table(tableName)} WHERE sid = $1`,
          [storedId('w')],
        );
        assert.ok(waitedSeconds > 0.2, `the write waited for the connection: ${waitedSeconds} s`);
        assert.ok(
          row!.left <= 3600 - waitedSeconds + 0.05,
          `3600 s from the call, less the ${waitedSeconds.toFixed(3)} s it waited: ${row!.left} s left`,
        );
      } finally {
        await store.close();
        await end();
      }
    });
  }
});

describe("recording a pepper's fingerprint needs the table's owner", () => {
  const { newStore, admin, table, schemaName } = useSchemaStores('cps_pepper_owner');
  const role = uniqueName('cps_not_owner');

  it('a store whose role does not own a table that records no pepper is refused, saying so', async () => {
    const pepper = 'a pepper of more than sixteen bytes';
    await newStore({ conString: databaseUrl(), tableName: 'unrecorded', sessionIdPepper: pepper }).set(
      'p1',
      inSeconds(60, { user: 2 }) as any,
    );
    await admin.query(`COMMENT ON COLUMN ${table('unrecorded')}.sid IS 'connect-pg-simple session ids: hmac-sha256'`);
    await admin.query(`CREATE ROLE "${role}" LOGIN`);
    await admin.query(`GRANT USAGE ON SCHEMA "${schemaName}" TO "${role}"`);
    await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${table('unrecorded')} TO "${role}"`);
    const url = new URL(databaseUrl());
    url.username = role;
    const notOwner = newStore({ conString: url.href, tableName: 'unrecorded', sessionIdPepper: pepper });
    try {
      await assert.rejects(
        () => notOwner.get('p1'),
        (error: any) =>
          error.name === 'SchemaError' &&
          error.code === '42501' &&
          /records no sessionIdPepper fingerprint yet, and this store's role may not record it/.test(error.message),
      );
    } finally {
      await notOwner.close();
      await admin.query(`DROP OWNED BY "${role}"`);
      await admin.query(`DROP ROLE "${role}"`);
    }
  });
});
