/**
 * What the change-log triggers (schema 4) cost the write path: the store's writes (insert,
 * change, touch, destroy) as fast as 16 concurrent callers go, on a table with the triggers on
 * (as they are made) and on one with them turned off, in interleaved rounds. Run alone:
 *
 *   node --import tsx bench/change-log-cost.ts [--rounds=6] [--seconds=3] [--asynchronous-commit]
 *
 * Prints operations per second per round and the ratio (on / off) of each pair.
 *
 * `--cycle`: the request cycle instead (a get of one of 2,000 sessions, then a change of it one
 * time in ten, else a touch, which lazy touch mostly skips), and a third contender: the table
 * with the triggers on, read through a store with `readCache: true`.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import connectPgSimple from '../src/index.js';
import { switchChangeLogStatement } from '../src/schema/change-log.js';
import { tableNames } from '../src/sql.js';

const { PGStore } = connectPgSimple;
const url = process.env.BENCH_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const arg = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const rounds = arg('rounds', 6);
const seconds = arg('seconds', 3);
const CALLERS = 16;
const schemaName = `cps_bench_change_log_${process.pid}`;
/** `--asynchronous-commit`: both stores with `synchronousCommit: false`. */
const synchronousCommit = !process.argv.includes('--asynchronous-commit');
const cycle = process.argv.includes('--cycle');
const SESSIONS = 2000;

type Store = InstanceType<typeof PGStore>;

const pool = new pg.Pool({ connectionString: url, max: 8 });
const cookie = () => ({ originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString() });

function storeOn(tableName: string, readCache = false) {
  return new PGStore({
    pool,
    schemaName,
    tableName,
    synchronousCommit,
    readCache,
    createTableIfMissing: true,
    pruneSessionInterval: false,
  });
}

/** One caller's request cycles: a get, then a change one time in ten, else a touch. */
async function cycleCaller(store: Store, until: number): Promise<number> {
  let operations = 0;
  while (performance.now() < until) {
    const sid = `c${Math.floor(Math.random() * SESSIONS)}`;
    const session = (await store.get(sid)) as { n: number } | null;
    if (session === null) throw new Error(`session ${sid} is missing`);
    if (Math.random() < 0.1) {
      session.n++;
      await store.set(sid, session as never);
    } else {
      await store.touch(sid, session as never);
    }
    operations++;
  }
  return operations;
}

/** One caller's loop: a new session, a change of it, a touch, its destroy. */
async function caller(store: Store, id: number, until: number): Promise<number> {
  if (cycle) return cycleCaller(store, until);
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

async function round(store: Store): Promise<number> {
  const started = performance.now();
  const until = started + seconds * 1000;
  const counts = await Promise.all(Array.from({ length: CALLERS }, (_, i) => caller(store, i, until)));
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - started) / 1000);
}

async function main() {
  await pool.query(`CREATE SCHEMA "${schemaName}"`);
  try {
    const withLog = storeOn('with_log');
    const without = storeOn('without_log');
    await withLog.length();
    await without.length();
    await pool.query(switchChangeLogStatement(tableNames('without_log', schemaName), false));
    const contenders: [string, Store][] = [
      ['triggers off', without],
      ['triggers on', withLog],
    ];
    if (cycle) {
      for (const [, store] of contenders) {
        for (let i = 0; i < SESSIONS; i++) await store.set(`c${i}`, { cookie: cookie(), n: 0 } as never);
      }
      contenders.push(['triggers on, readCache: true', storeOn('with_log', true)]);
    }
    // Warm each (plans, connections, caches, a poller) before the measured rounds.
    for (const [, store] of contenders) await round(store);
    const ratios = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      // Interleaved, and the order turns, so no contender always runs first.
      const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]!);
      const rates = new Map<string, number>();
      for (const [name, store] of order) rates.set(name, await round(store));
      const off = rates.get('triggers off')!;
      const line = contenders.map(([name]) => `${name} ${rates.get(name)!.toFixed(0)}/s`);
      for (const [name] of contenders.slice(1)) {
        ratios.set(name, [...(ratios.get(name) ?? []), rates.get(name)! / off]);
      }
      console.log(`round ${r + 1}: ${line.join(', ')}`);
    }
    for (const [name, values] of ratios) {
      const sorted = [...values].sort((a, b) => a - b);
      const median = (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
      console.log(
        `${name} ÷ triggers off: median ${median.toFixed(3)}, range ${sorted[0]!.toFixed(3)}–${sorted.at(-1)!.toFixed(3)} over ${rounds} rounds of ${seconds} s`,
      );
    }
    await Promise.all(contenders.map(([, store]) => store.close()));
  } finally {
    await pool.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
