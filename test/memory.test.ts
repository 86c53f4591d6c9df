import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import { PGStore } from '../src/index.js';
import { databaseUrl, eventually, uniqueName } from './support/database.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SESSIONS = 1000;
const SESSION_BYTES = 100_000;
/** Read first, apart: the driver's buffers and the code's first runs grow the heap once. */
const WARM_UP_SESSIONS = 200;
const MB = 1024 * 1024;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * What the store keeps per session must not be the session text: reading many large sessions
 * once leaves the heap where it was (and with `readCache`, within its byte budget).
 */
describe('memory after reading many large sessions once', () => {
  let pool: pg.Pool;
  let schemaName: string;
  /** The pool's connections, and a store's listening connection made from its settings, go by this name. */
  const application = uniqueName('cps_memory');
  const stores: PGStore[] = [];

  before(async () => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 4, application_name: application });
    schemaName = uniqueName('cps_memory');
    await pool.query(`CREATE SCHEMA "${schemaName}"`);
    const store = new PGStore({ pool, schemaName, createTableIfMissing: true, pruneSessionInterval: false });
    stores.push(store);
    await store.length();
    await pool.query(
      `INSERT INTO "${schemaName}"."session" (sid, sess, expire)
       SELECT encode(sha256(convert_to(CASE WHEN i > $2::int THEN 'warm' || i ELSE 'big' || i END, 'UTF8')), 'hex'), json_build_object('cookie', json_build_object('originalMaxAge', 600000), 'blob', repeat('x', $1::int)), now() + interval '1 hour'
       FROM generate_series(1, $2::int + $3::int) i`,
      [SESSION_BYTES, SESSIONS, WARM_UP_SESSIONS],
    );
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await pool.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await pool.end();
  });

  async function readAll(store: PGStore, prefix: string, from: number, to: number): Promise<void> {
    for (let i = from; i <= to; i += 50) {
      const sids = Array.from({ length: Math.min(50, to - i + 1) }, (_, j) => `${prefix}${i + j}`);
      const read = await Promise.all(sids.map((sid) => store.get(sid)));
      assert.equal(read.filter(Boolean).length, sids.length);
    }
  }

  async function growthAfterReadingAll(options: Record<string, unknown>): Promise<number> {
    const store = new PGStore({ pool, schemaName, pruneSessionInterval: false, ...options });
    stores.push(store);
    await readAll(store, 'warm', SESSIONS + 1, SESSIONS + WARM_UP_SESSIONS);
    const before = heapUsed();
    await readAll(store, 'big', 1, SESSIONS);
    return heapUsed() - before;
  }

  it(`with readCache: false, keeps none of the ${((SESSIONS * SESSION_BYTES) / MB) | 0} MB it read`, async (t) => {
    const growth = await growthAfterReadingAll({ readCache: false });
    t.diagnostic(`heap growth: ${(growth / MB).toFixed(1)} MB`);
    assert.ok(growth < 8 * MB, `heap grew by ${(growth / MB).toFixed(1)} MB`);
  });

  it('with readCache, keeps no more than its byte budget (32 MB)', async (t) => {
    const growth = await growthAfterReadingAll({ readCache: 60_000 });
    t.diagnostic(`heap growth: ${(growth / MB).toFixed(1)} MB`);
    assert.ok(growth < 32 * MB + 8 * MB, `heap grew by ${(growth / MB).toFixed(1)} MB`);
  });

  it('with readCache: true, keeps no more than its byte budget (32 MB) either', async (t) => {
    const store = new PGStore({ pool, schemaName, pruneSessionInterval: false, readCache: true });
    stores.push(store);
    await store.get('warm1001');
    const polling = async () =>
      (
        await pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND (query LIKE 'SELECT pg_snapshot_xmin(%' OR query LIKE 'WITH gone AS (DELETE FROM %')`,
          [application],
        )
      ).rowCount === 1;
    assert.ok(
      await eventually(async () => {
        await store.get('warm1001');
        return polling();
      }, 10_000),
      'it polls before the reads',
    );
    await readAll(store, 'warm', SESSIONS + 1, SESSIONS + WARM_UP_SESSIONS);
    const before = heapUsed();
    await readAll(store, 'big', 1, SESSIONS);
    const growth = heapUsed() - before;
    t.diagnostic(`heap growth: ${(growth / MB).toFixed(1)} MB`);
    assert.ok(
      growth > 8 * MB,
      `it cached what it read (without a cache: under 8 MB): heap grew by ${(growth / MB).toFixed(1)} MB`,
    );
    assert.ok(growth < 32 * MB + 8 * MB, `heap grew by ${(growth / MB).toFixed(1)} MB`);
  });
});
