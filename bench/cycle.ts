import { type BenchEnv, CONTENDERS, type Contender, type CycleStore, type OpenStore } from './lib/contenders.js';
import { type LoadResult, runLoad, type Turn, takeTurns } from './lib/load.js';
import { useSession } from './lib/sessions.js';
import { statementsSent } from './lib/statement-count.js';

export interface Measured {
  readonly id: string;
  readonly label: string;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The bench process's CPU per operation (µs): the client side's own cost. */
  readonly cpuUsPerOp: number;
  /** Statements sent per operation, for contenders on `pg` (what explains most of the CPU). */
  readonly statementsPerOp?: number;
  readonly errors: number;
  readonly firstError?: string;
}

export interface Skipped {
  readonly id: string;
  readonly label: string;
  readonly skipped: string;
}

export type Outcome = Measured | Skipped;

export const isMeasured = (o: Outcome | undefined): o is Measured => o !== undefined && !('skipped' in o);

export function summarize(id: string, label: string, result: LoadResult): Measured {
  return {
    id,
    label,
    opsPerSec: result.opsPerSec,
    p50Ms: result.latency.percentile(50),
    p99Ms: result.latency.percentile(99),
    cpuUsPerOp: result.cpuUsPerOp,
    errors: result.errors,
    ...(result.firstError === undefined ? {} : { firstError: result.firstError }),
  };
}

/** One request as express-session makes it: get, then set if the app changed the session, else touch. */
export async function requestCycle(store: CycleStore, sids: readonly string[], writeShare: number): Promise<void> {
  const sid = sids[(Math.random() * sids.length) | 0]!;
  const session = await store.get(sid);
  if (session === null) throw new Error('a session created for the run was not found');
  if (useSession(session, writeShare)) await store.set(sid, session);
  else await store.touch(sid, session);
}

export type Availability = (contender: Contender) => string | undefined;

/** Every contender, each in a table (or key prefix) of its own, taking turns under the same load. */
export async function runCycle(env: BenchEnv, unavailable: Availability, log: (line: string) => void) {
  const { concurrency, sessions, writeShare } = env.settings.cycle;
  const outcomes = new Map<string, Outcome>();
  const opened: { contender: Contender; store: OpenStore }[] = [];
  try {
    for (const contender of CONTENDERS) {
      const why = unavailable(contender);
      if (why === undefined) {
        opened.push({
          contender,
          store: await contender.open(env, sessions, `cycle_${contender.id.replaceAll('-', '_')}`),
        });
      } else {
        log(`  ${contender.label}: skipped (${why})`);
        outcomes.set(contender.id, { id: contender.id, label: contender.label, skipped: why });
      }
    }
    const statements = new Map<string, { sent: number; cycles: number }>();
    const turns: Turn[] = opened.map(({ contender, store }) => ({
      key: contender.id,
      run: async (warmupMs, durationMs) => {
        const before = statementsSent();
        const result = await runLoad({
          concurrency,
          warmupMs,
          durationMs,
          op: () => requestCycle(store.store, store.sids, writeShare),
        });
        const counted = statements.get(contender.id) ?? { sent: 0, cycles: 0 };
        statements.set(contender.id, {
          sent: counted.sent + statementsSent() - before,
          cycles: counted.cycles + result.completed,
        });
        return result;
      },
    }));
    const results = await takeTurns(turns, env.settings.cycle);
    for (const { contender } of opened) {
      const counted = statements.get(contender.id);
      const measured: Measured = {
        ...summarize(contender.id, contender.label, results.get(contender.id)!),
        ...(contender.backend === 'pg' && counted !== undefined && counted.sent > 0
          ? { statementsPerOp: counted.sent / counted.cycles }
          : {}),
      };
      outcomes.set(contender.id, measured);
      log(
        `  ${contender.label}: ${Math.round(measured.opsPerSec)} cycles/s, p50 ${measured.p50Ms.toFixed(2)} ms, p99 ${measured.p99Ms.toFixed(2)} ms, ${Math.round(measured.cpuUsPerOp)} µs CPU/cycle${measured.statementsPerOp === undefined ? '' : `, ${measured.statementsPerOp.toFixed(3)} statements/cycle`}${measured.errors ? `, ${measured.errors} errors (${measured.firstError})` : ''}`,
      );
    }
  } finally {
    for (const { store } of opened) await store.close();
  }
  return CONTENDERS.map((c) => outcomes.get(c.id)!);
}
