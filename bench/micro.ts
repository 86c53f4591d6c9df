import type session from 'express-session';
import { type Measured, summarize } from './cycle.js';
import {
  type BenchEnv,
  floorStore,
  LAZY_TOUCH_WINDOW_SECONDS,
  newPgPool,
  oursStoreClass,
  storedForm,
} from './lib/contenders.js';
import { runLoad, type Turn, takeTurns } from './lib/load.js';
import type { BenchSession } from './lib/sessions.js';

export interface MicroResult {
  readonly get: { readonly ours: Measured; readonly floor: Measured; readonly ratio: number };
  readonly set: { readonly ours: Measured; readonly floor: Measured; readonly ratio: number };
  /**
   * Diagnostic: the floor sending ours' exact SELECT (which also returns the row's remaining
   * time, for the lazy touch). `ours ÷ this` is the store's JavaScript overhead alone.
   */
  readonly getSameSql: { readonly floor: Measured; readonly ratio: number };
}

/** Targets of issue 4: a get within 5 % of the bare SELECT, a set within 10 % of the bare upsert. */
export const MICRO_TARGETS = { get: 0.95, set: 0.9 } as const;

/**
 * One store call alone, against the same statement written by hand: same pool, same table, same
 * rows, same concurrency, taking turns. What is left is the store's own cost per call.
 */
export async function runMicro(env: BenchEnv, log: (line: string) => void): Promise<MicroResult> {
  const { settings, admin } = env;
  const table = 'micro';
  await admin.createOursTable(table);
  // Ours stores hashed ids: so does the floor, hashing in JS as ours does (part of the work).
  const stored = storedForm({});
  const { sids, sessions } = await admin.seed(table, settings.cycle.sessions, LAZY_TOUCH_WINDOW_SECONDS, false, stored);
  const pool = newPgPool(settings);
  const Store = oursStoreClass();
  const ours = new Store({ pool, schemaName: settings.schema, tableName: table });
  const unhashedFloor = floorStore(pool, admin.qualified(table));
  const floor: typeof unhashedFloor = {
    ...unhashedFloor,
    get: (sid) => unhashedFloor.get(stored.id(sid)),
    set: (sid, s) => unhashedFloor.set(stored.id(sid), s),
    touch: (sid, s) => unhashedFloor.touch(stored.id(sid), s),
  };
  const sameSql = {
    name: 'floor_get_same_sql',
    text: admin.storeGetText(table),
  };
  const floorGetSameSql = async (sid: string) => {
    const { rows } = await pool.query({ ...sameSql, values: [stored.id(sid)] });
    return rows[0] === undefined ? null : (JSON.parse(rows[0].sess) as BenchSession);
  };
  const pick = () => (Math.random() * sids.length) | 0;
  /** A changed session each time: a set that must write (content changes), as after a request that changed it. */
  const changed = (i: number): BenchSession => {
    const s = sessions[i]!;
    s.views += 1;
    s.cookie.expires = new Date(Date.now() + s.cookie.originalMaxAge).toISOString();
    return s;
  };
  const found = (value: unknown) => {
    if (value === null || value === undefined) throw new Error('a session created for the run was not found');
  };
  const load = (op: () => Promise<void>) => (warmupMs: number, durationMs: number) =>
    runLoad({ concurrency: settings.micro.concurrency, warmupMs, durationMs, op });
  const turns: Turn[] = [
    { key: 'ours-get', run: load(async () => found(await ours.get(sids[pick()]!))) },
    { key: 'floor-get', run: load(async () => found(await floor.get(sids[pick()]!))) },
    { key: 'floor-get-same-sql', run: load(async () => found(await floorGetSameSql(sids[pick()]!))) },
    {
      key: 'ours-set',
      run: load(async () => {
        const i = pick();
        await ours.set(sids[i]!, changed(i) as unknown as session.SessionData);
      }),
    },
    {
      key: 'floor-set',
      run: load(async () => {
        const i = pick();
        await floor.set(sids[i]!, changed(i));
      }),
    },
  ];
  try {
    const r = await takeTurns(turns, settings.micro);
    const m = (key: string, label: string) => summarize(key, label, r.get(key)!);
    const pair = (what: 'get' | 'set', oursLabel: string, floorLabel: string) => {
      const o = m(`ours-${what}`, oursLabel);
      const f = m(`floor-${what}`, floorLabel);
      const ratio = o.opsPerSec / f.opsPerSec;
      log(
        `  ${what}: ours ${Math.round(o.opsPerSec)}/s (p99 ${o.p99Ms.toFixed(2)} ms, ${Math.round(o.cpuUsPerOp)} µs CPU), floor ${Math.round(f.opsPerSec)}/s (p99 ${f.p99Ms.toFixed(2)} ms, ${Math.round(f.cpuUsPerOp)} µs CPU): ${ratio.toFixed(3)}× (target ≥ ${MICRO_TARGETS[what]})`,
      );
      return { ours: o, floor: f, ratio };
    };
    const get = pair('get', 'ours get()', 'floor SELECT by sid');
    const sameSql = m('floor-get-same-sql', "floor sending ours' SELECT");
    const sameRatio = get.ours.opsPerSec / sameSql.opsPerSec;
    log(
      `  get, diagnostic: floor sending ours' exact SELECT ${Math.round(sameSql.opsPerSec)}/s (${Math.round(sameSql.cpuUsPerOp)} µs CPU): ours ÷ it ${sameRatio.toFixed(3)}×`,
    );
    return {
      get,
      set: pair('set', 'ours set() of a changed session', 'floor upsert'),
      getSameSql: { floor: sameSql, ratio: sameRatio },
    };
  } finally {
    await ours.close();
    await pool.end();
  }
}
