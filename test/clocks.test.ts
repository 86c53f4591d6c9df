import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PGStore } from '../src/index.js';
import { databaseUrl, uniqueName } from './support/database.js';
import { storedId } from './support/sessions.js';

const HOUR = 3_600_000;

describe('one clock: the database decides what is alive', () => {
  let admin: pg.Pool;
  let schemaName: string;
  const pools: pg.Pool[] = [];
  const stores: InstanceType<typeof PGStore>[] = [];

  const poolIn = (timeZone: string) => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2, options: `-c TimeZone=${timeZone}` });
    pools.push(pool);
    return pool;
  };
  const storeOn = (pool: pg.Pool, options: Record<string, unknown> = {}) => {
    const store = new PGStore({
      pool,
      schemaName,
      createTableIfMissing: true,
      pruneSessionInterval: false,
      ...options,
    });
    stores.push(store);
    return store;
  };

  before(async () => {
    admin = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    schemaName = uniqueName('cps_clock');
    await admin.query(`CREATE SCHEMA "${schemaName}"`);
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all(pools.map((p) => p.end()));
    await admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await admin.end();
  });

  it('app servers in different TimeZones agree on expiry', async () => {
    const east = storeOn(poolIn('Pacific/Kiritimati'), { tableName: 'tz' }); // UTC+14
    const west = storeOn(poolIn('America/Adak'), { tableName: 'tz' }); // UTC-10
    const expires = new Date(Date.now() + 30_000).toISOString();
    await east.set('tz1', { cookie: { expires } } as any);
    assert.ok(await west.get('tz1'), 'alive seen from the other zone');
    await west.set('tz2', { cookie: { expires } } as any);
    assert.ok(await east.get('tz2'));
    assert.equal(await west.pruneSessions(), 0, 'nothing live is pruned from the other zone');
    const { rows } = await admin.query(`SELECT sid, expire FROM "${schemaName}"."tz" ORDER BY sid`);
    const [a, b] = rows.map((r) => new Date(r.expire).getTime());
    assert.ok(Math.abs(a! - b!) < 2000, 'both zones wrote the same instant');
  });

  it('an app clock an hour off neither returns expired sessions nor prunes live ones', async () => {
    const store = storeOn(poolIn('UTC'), { tableName: 'skew', ttl: 600 });
    await store.set('live', { cookie: {} } as any);
    await admin.query(
      `INSERT INTO "${schemaName}"."skew" (sid, sess, expire) VALUES ('dead', '{"cookie":{}}', now() - interval '1 second')`,
    );
    const realNow = Date.now;
    for (const offset of [HOUR, -HOUR]) {
      Date.now = () => realNow() + offset;
      try {
        assert.ok(await store.get('live'), `live session seen with the clock ${offset > 0 ? 'ahead' : 'behind'}`);
        assert.equal(await store.get('dead'), null, 'expired session stays expired');
        // A cookie made by the skewed clock gives the same lifetime as an honest one.
        const skewedCookie = new PGStore({
          pool: poolIn('UTC'),
          schemaName,
          tableName: 'skew',
          pruneSessionInterval: false,
        });
        stores.push(skewedCookie);
        await skewedCookie.set('skewed-cookie', {
          cookie: { expires: new Date(Date.now() + 120_000).toISOString() },
        } as any);
        await store.touch('live', { cookie: {} } as any);
      } finally {
        Date.now = realNow;
      }
    }
    const pruned = await store.pruneSessions();
    assert.equal(pruned, 1, 'only the expired session was pruned');
    const { rows } = await admin.query(
      `SELECT sid, extract(epoch FROM expire - now())::float8 AS left FROM "${schemaName}"."skew" ORDER BY sid`,
    );
    const left = new Map(rows.map((r) => [r.sid, r.left]));
    assert.deepEqual([...left.keys()].sort(), [storedId('live'), storedId('skewed-cookie')].sort());
    assert.ok(
      Math.abs(left.get(storedId('skewed-cookie')) - 120) < 5,
      'lifetime from the skewed cookie is still 120 s',
    );
  });
});
