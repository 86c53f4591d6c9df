/**
 * The memory test, in a process of its own started with --expose-gc: a million store operations
 * (the request cycle's get / set / touch mix) on ours, with the heap measured after full
 * collections before, after a warmup, and at the end. Configured by BENCH_MEMORY (JSON); reports
 * over IPC.
 */

import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type session from 'express-session';
import { newPgPool, oursStoreClass } from './lib/contenders.js';
import type { BenchSession } from './lib/sessions.js';
import { useSession } from './lib/sessions.js';
import { parseSettings } from './lib/settings.js';

export interface MemoryChildConfig {
  readonly table: string;
  readonly argv: readonly string[];
}

export interface HeapSample {
  readonly operations: number;
  readonly heapUsedMB: number;
  readonly rssMB: number;
}

export interface MemoryChildReport {
  readonly samples: readonly HeapSample[];
  readonly operations: number;
  readonly seconds: number;
  readonly errors: number;
}

const MB = 1024 * 1024;

async function collect(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await nextTurn();
  }
}

async function main() {
  const config = JSON.parse(process.env.BENCH_MEMORY ?? '{}') as MemoryChildConfig;
  const settings = parseSettings(config.argv);
  const { operations, warmupOperations, concurrency } = settings.memory;
  const pool = newPgPool(settings);
  const sids: string[] = (await pool.query(`SELECT sid FROM "${settings.schema}"."${config.table}"`)).rows.map(
    (r: { sid: string }) => r.sid,
  );
  const store = new (oursStoreClass())({ pool, schemaName: settings.schema, tableName: config.table });
  const cycle = async (): Promise<number> => {
    const sid = sids[(Math.random() * sids.length) | 0]!;
    const s = (await store.get(sid)) as unknown as BenchSession | null;
    if (s === null) throw new Error('a session created for the run was not found');
    if (useSession(s, settings.cycle.writeShare)) await store.set(sid, s as unknown as session.SessionData);
    else await store.touch(sid, s as unknown as session.SessionData);
    return 2;
  };
  let done = 0;
  let errors = 0;
  /** Runs request cycles from `concurrency` callers until `target` operations have been done. */
  const runUntil = async (target: number) => {
    const caller = async () => {
      while (done < target) {
        done += 2;
        try {
          await cycle();
        } catch {
          errors += 1;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, caller));
  };
  const samples: HeapSample[] = [];
  const sample = async () => {
    await collect();
    const m = process.memoryUsage();
    samples.push({ operations: done, heapUsedMB: m.heapUsed / MB, rssMB: m.rss / MB });
  };

  await sample();
  const t0 = performance.now();
  await runUntil(warmupOperations);
  await sample();
  await runUntil((warmupOperations + operations) / 2);
  await sample();
  await runUntil(operations);
  const seconds = (performance.now() - t0) / 1000;
  await sample();
  await store.close();
  await pool.end();
  const report: MemoryChildReport = { samples, operations: done, seconds, errors };
  process.send?.(report);
}

main().then(
  () => process.disconnect?.(),
  (error: unknown) => {
    console.error('bench memory:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
