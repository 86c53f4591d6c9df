import { performance } from 'node:perf_hooks';
import { Histogram } from './histogram.js';

export interface LoadOptions {
  /** Callers running at once, each awaiting its operation before starting the next. */
  readonly concurrency: number;
  /** Time spent running before measuring starts (connections open, JIT warms up). */
  readonly warmupMs: number;
  /** Time measured. */
  readonly durationMs: number;
  /** One unit of work (a request cycle, a get, …); `caller` is 0 … concurrency − 1. */
  readonly op: (caller: number) => Promise<void>;
  /** Stop early, between operations, once this resolves (in addition to the deadline). */
  readonly until?: Promise<unknown>;
}

export interface LoadResult {
  /** Operations completed inside the measured window. */
  readonly ops: number;
  /** Operations completed in all, the warmup's included: what the CPU time is divided by. */
  readonly completed: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  readonly latency: Histogram;
  readonly errors: number;
  readonly firstError: string | undefined;
  /** This process's CPU time (user + system) per operation, in µs: the client side's own cost, less noisy than throughput. */
  readonly cpuUsPerOp: number;
  /** pg statements per operation, where the run counts them (the HTTP app). */
  readonly statementsPerOp?: number;
}

/** A hard cap on operations per caller, so that even a broken clock cannot make a loop run forever. */
const MAX_OPS_PER_CALLER = 50_000_000;

/**
 * A closed-loop load: `concurrency` callers, each running `op` back to back until the deadline.
 * Latency and throughput count only operations that started after the warmup.
 */
export async function runLoad({ concurrency, warmupMs, durationMs, op, until }: LoadOptions): Promise<LoadResult> {
  const latency = new Histogram();
  let errors = 0;
  let firstError: string | undefined;
  let completed = 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const measureFrom = start + warmupMs;
  // Operations that start before the deadline count; the window ends there (or when `until` settles).
  let deadline = measureFrom + durationMs;
  const stop = () => {
    deadline = Math.max(measureFrom, Math.min(deadline, performance.now()));
  };
  until?.then(stop, stop);

  const caller = async (index: number) => {
    for (let i = 0; i < MAX_OPS_PER_CALLER; i++) {
      const t0 = performance.now();
      if (t0 >= deadline) return;
      try {
        await op(index);
        completed += 1;
        if (t0 >= measureFrom) latency.record(performance.now() - t0);
      } catch (error) {
        if (t0 >= measureFrom) errors += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
        // An erroring peer must not spin: give the event loop (and the peer) a breath.
        await sleep(1);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => caller(i)));
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = Math.max(1e-9, (deadline - measureFrom) / 1000);
  const cpuUsPerOp = completed === 0 ? 0 : (cpu.user + cpu.system) / completed;
  return {
    ops: latency.count,
    completed,
    seconds,
    opsPerSec: latency.count / seconds,
    latency,
    errors,
    firstError,
    cpuUsPerOp,
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Several measured windows of the same load as one. */
export function combine(results: readonly LoadResult[]): LoadResult {
  const latency = new Histogram();
  let ops = 0;
  let seconds = 0;
  let errors = 0;
  let firstError: string | undefined;
  let cpu = 0;
  let statements: number | undefined;
  let completed = 0;
  for (const r of results) {
    completed += r.completed;
    cpu += r.cpuUsPerOp * r.ops;
    if (r.statementsPerOp !== undefined) statements = (statements ?? 0) + r.statementsPerOp * r.ops;
    latency.merge(r.latency);
    ops += r.ops;
    seconds += r.seconds;
    errors += r.errors;
    firstError ??= r.firstError;
  }
  return {
    ops,
    completed,
    seconds,
    opsPerSec: seconds > 0 ? ops / seconds : 0,
    latency,
    errors,
    firstError,
    cpuUsPerOp: ops > 0 ? cpu / ops : 0,
    ...(statements === undefined || ops === 0 ? {} : { statementsPerOp: statements / ops }),
  };
}

export interface Turn {
  readonly key: string;
  /** Runs the load for one window: `warmupMs` unmeasured, then `durationMs` measured. */
  run(warmupMs: number, durationMs: number): Promise<LoadResult>;
}

export interface TurnSettings {
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly rounds: number;
  readonly rewarmMs: number;
}

/**
 * Runs each load in turn: one unmeasured warmup each, then `rounds` measured windows each, the
 * order rotating every round, so that a busy neighbour on the machine hits every load alike.
 */
export async function takeTurns(turns: readonly Turn[], s: TurnSettings): Promise<Map<string, LoadResult>> {
  const windows = new Map<string, LoadResult[]>(turns.map((t) => [t.key, []]));
  for (const turn of turns) await turn.run(s.warmupMs, 0);
  for (let round = 0; round < s.rounds; round++) {
    for (let i = 0; i < turns.length; i++) {
      const turn = turns[(i + round) % turns.length]!;
      windows.get(turn.key)!.push(await turn.run(s.rewarmMs, s.durationMs / s.rounds));
    }
  }
  return new Map([...windows].map(([key, results]) => [key, combine(results)]));
}
