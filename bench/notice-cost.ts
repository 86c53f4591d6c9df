/**
 * What the change-notice triggers (schema 4) cost the write path when they are on: the store's
 * writes (insert, change, touch, destroy) as fast as 16 concurrent callers go, on a table with the
 * notices on and on one with them off (as migrate leaves them), in interleaved rounds. Run alone:
 *
 *   node --import tsx bench/notice-cost.ts [--rounds=6] [--seconds=3] [--asynchronous-commit]
 *
 * Prints operations per second per round and the ratio (on / off) of each pair. With
 * BENCH_NOTICE_NO_NOTIFY=1 the triggers run but send nothing: their cost apart from NOTIFY's.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import connectPgSimple from '../src/index.js';
import { switchChangeNoticesStatement } from '../src/schema/change-notices.js';
import { tableNames } from '../src/sql.js';

const { PGStore } = connectPgSimple;
const url = process.env.BENCH_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const arg = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const rounds = arg('rounds', 6);
const seconds = arg('seconds', 3);
const CALLERS = 16;
const schemaName = `cps_bench_notice_${process.pid}`;
/** `--asynchronous-commit`: both stores with `synchronousCommit: false`. */
const synchronousCommit = !process.argv.includes('--asynchronous-commit');

const pool = new pg.Pool({ connectionString: url, max: 8 });
const cookie = () => ({ originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString() });

function storeOn(tableName: string) {
  return new PGStore({
    pool,
    schemaName,
    tableName,
    synchronousCommit,
    createTableIfMissing: true,
    pruneSessionInterval: false,
  });
}

/** One caller's loop: a new session, a change of it, a touch, its destroy. */
async function caller(store: InstanceType<typeof PGStore>, id: number, until: number): Promise<number> {
  let operations = 0;
  for (let i = 0; performance.now() < until; i++) {
    const sid = `s${id}-${i}-${Math.random()}`;
    await store.set(sid, { cookie: cookie(), n: 1 } as never);
    await store.set(sid, { cookie: cookie(), n: 2 } as never);
    await store.touch(sid, { cookie: cookie(), n: 2 } as never);
    await store.destroy(sid);
    operations += 4;
  }
  return operations;
}

async function round(store: InstanceType<typeof PGStore>): Promise<number> {
  const started = performance.now();
  const until = started + seconds * 1000;
  const counts = await Promise.all(Array.from({ length: CALLERS }, (_, i) => caller(store, i, until)));
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - started) / 1000);
}

async function main() {
  await pool.query(`CREATE SCHEMA "${schemaName}"`);
  try {
    const withNotices = storeOn('with_notices');
    const without = storeOn('without_notices');
    await withNotices.length();
    await without.length();
    if (process.env.BENCH_NOTICE_NO_NOTIFY) {
      const [{ def }] = (
        await pool.query(`SELECT pg_get_functiondef('"${schemaName}"."with_notices_changed"'::regproc) AS def`)
      ).rows;
      await pool.query(def.replaceAll('pg_notify(', 'concat('));
    }
    await pool.query(switchChangeNoticesStatement(tableNames('with_notices', schemaName), true));
    // Warm both (plans, connections, caches) before the measured rounds.
    await round(withNotices);
    await round(without);
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Interleaved, and the order alternates, so neither side always runs first.
      const order = r % 2 === 0 ? [withNotices, without] : [without, withNotices];
      const rates = new Map<unknown, number>();
      for (const store of order) rates.set(store, await round(store));
      const on = rates.get(withNotices)!;
      const off = rates.get(without)!;
      ratios.push(on / off);
      console.log(
        `round ${r + 1}: with triggers ${on.toFixed(0)} ops/s, without ${off.toFixed(0)} ops/s, ratio ${(on / off).toFixed(3)}`,
      );
    }
    const sorted = [...ratios].sort((a, b) => a - b);
    const median = (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
    console.log(
      `ratio with/without: median ${median.toFixed(3)}, range ${sorted[0]!.toFixed(3)}–${sorted.at(-1)!.toFixed(3)} over ${rounds} rounds of ${seconds} s`,
    );
    await Promise.all([withNotices.close(), without.close()]);
  } finally {
    await pool.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
