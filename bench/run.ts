/**
 * `npm run bench -- [cycle] [micro] [http] [memory] [prune] [all] [--quick]`: connect-pg-simple
 * against its peers, in one run against one PostgreSQL. See bench/README.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { isMeasured, type Outcome, runCycle } from './cycle.js';
import { runHttp } from './http.js';
import { type BenchEnv, connectRedis, OURS_ID } from './lib/contenders.js';
import { PgAdmin } from './lib/pg-admin.js';
import { barChart, int, ms, type Panel, ratio, textTable } from './lib/report.js';
import { parseSettings, type Section, type Settings } from './lib/settings.js';
import type { MemoryResult } from './memory.js';
import { runMemory } from './memory.js';
import { MICRO_TARGETS, type MicroResult, runMicro } from './micro.js';
import { type PartitionsResult, runPartitions } from './partitions.js';
import { PRUNE_TARGETS, type PruneResult, runPrune } from './prune.js';

const RESULTS_DIR = `${__dirname}/results`;
const LATEST = `${RESULTS_DIR}/latest.json`;
const CHART = `${RESULTS_DIR}/chart.svg`;
const DEFAULT_PRUNE_BATCH = 1000;
const PEER_NAMES: Record<string, string> = {
  oursVsV10: 'connect-pg-simple 10.0.0',
  oursVsRedis: 'connect-redis',
  oursVsFloor: 'raw pg floor',
  oursVsMemory: 'MemoryStore',
};

interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGB: number;
  readonly os: string;
  readonly node: string;
  readonly postgres: string | null;
  readonly redis: string | null;
}

interface Stamp {
  readonly mode: 'full' | 'quick';
  readonly at: string;
}

type Ratios = Record<string, number | null>;

interface Results {
  generatedAt: string;
  machine: Machine;
  cycle?: Stamp & { contenders: Outcome[]; ratios: Ratios };
  micro?: Stamp & MicroResult & { targets: typeof MICRO_TARGETS };
  http?: Stamp & { contenders: Outcome[]; ratios: Ratios };
  memory?: Stamp & MemoryResult;
  prune?: Stamp & PruneResult & { targets: typeof PRUNE_TARGETS };
  partitions?: Stamp & PartitionsResult & { load: string };
}

interface Target {
  readonly what: string;
  readonly met: boolean;
  readonly detail: string;
}

const log = (line: string) => console.log(line);

async function probeRedis(url: string): Promise<string | undefined> {
  try {
    const client = await connectRedis(url);
    const info = await client.info('server');
    await client.quit();
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown version';
  } catch {
    return undefined;
  }
}

/** ours ÷ each named peer, by their `opsPerSec`. */
function ratiosOf(outcomes: readonly Outcome[], peers: Record<string, string>): Ratios {
  const ours = outcomes.find((o) => o.id === OURS_ID);
  const out: Ratios = {};
  for (const [name, id] of Object.entries(peers)) {
    const peer = outcomes.find((o) => o.id === id);
    out[name] = isMeasured(ours) && isMeasured(peer) ? ours.opsPerSec / peer.opsPerSec : null;
  }
  return out;
}

function outcomeTable(outcomes: readonly Outcome[], unit: string, withCpu: boolean): string {
  const ours = outcomes.find((o) => o.id === OURS_ID);
  return textTable(
    [
      { title: 'contender', align: 'left' },
      { title: unit },
      { title: 'p50 ms' },
      { title: 'p99 ms' },
      ...(withCpu ? [{ title: 'CPU µs' }] : []),
      { title: 'ours ÷ it' },
    ],
    outcomes.map((o) =>
      isMeasured(o)
        ? [
            o.label,
            int(o.opsPerSec),
            ms(o.p50Ms),
            ms(o.p99Ms),
            ...(withCpu ? [int(o.cpuUsPerOp)] : []),
            o.id === OURS_ID || !isMeasured(ours) ? '' : ratio(ours.opsPerSec / o.opsPerSec),
          ].concat(o.errors > 0 ? [`${o.errors} errors: ${o.firstError}`] : [])
        : [o.label, 'skipped', '', '', ...(withCpu ? [''] : []), '', o.skipped],
    ),
  );
}

/** The targets for the request cycle and the HTTP app (issues 4 and 26): ours ÷ peer at least `atLeast`. */
const RATIO_TARGETS = [
  { section: 'cycle', peer: 'v10', atLeast: 3 },
  { section: 'cycle', peer: 'redis', atLeast: 1 },
  { section: 'http', peer: 'v10', atLeast: 2 },
  { section: 'http', peer: 'redis', atLeast: 0.95 },
] as const;

/** The other configurations are reported against the same targets, never in place of the defaults. */
const OPT_IN_IDS = ['ours-uncached', 'ours-async-commit', 'ours-pipelined', 'ours-cached'];

function targetsOf(r: Results): Target[] {
  const targets: Target[] = [];
  for (const { section, peer, atLeast } of RATIO_TARGETS) {
    const contenders = r[section]?.contenders;
    const other = contenders?.find((o) => o.id === peer);
    for (const id of [OURS_ID, ...OPT_IN_IDS]) {
      const ours = contenders?.find((o) => o.id === id);
      if (!isMeasured(ours) || !isMeasured(other)) continue;
      const got = ours.opsPerSec / other.opsPerSec;
      targets.push({
        what: `${section}: ${ours.label} ≥ ${atLeast}× ${other.label}`,
        met: got >= atLeast,
        detail: `${got.toFixed(2)}×`,
      });
    }
  }
  if (r.micro) {
    for (const what of ['get', 'set'] as const) {
      const got = r.micro[what].ratio;
      targets.push({
        what: `micro ${what}: ours ≥ ${MICRO_TARGETS[what]}× floor`,
        met: got >= MICRO_TARGETS[what],
        detail: `${got.toFixed(3)}×`,
      });
    }
  }
  if (r.prune) {
    const run = r.prune.runs.find((x) => x.batchSize === DEFAULT_PRUNE_BATCH) ?? r.prune.runs[0];
    if (run) {
      const at = `(batch ${run.batchSize})`;
      targets.push({
        what: `prune ${at}: finishes`,
        met: run.finished,
        detail: `${int(run.deleted)} rows in ${run.seconds.toFixed(1)} s`,
      });
      targets.push({
        what: `prune ${at}: no statement over ${PRUNE_TARGETS.maxStatementMs} ms`,
        met: run.statementMaxMs <= PRUNE_TARGETS.maxStatementMs,
        detail: `max ${ms(run.statementMaxMs)} ms, ${run.statementsOverTarget ?? 'n/a'} of ${run.statements} statements over`,
      });
      // A load that only fails (a session it cannot find) measures nothing: no figure of it counts.
      const loadErrors = run.baseline.errors + run.during.errors;
      targets.push({
        what: `prune ${at}: the request-cycle load ran without errors`,
        met: loadErrors === 0,
        detail: `${int(loadErrors)} failed cycles`,
      });
      targets.push({
        what: `prune ${at}: get p99 ≤ ${PRUNE_TARGETS.getP99Ratio}× without prune`,
        met: run.getP99Ratio <= PRUNE_TARGETS.getP99Ratio,
        detail: `${ms(run.baseline.getP99Ms)} → ${ms(run.during.getP99Ms)} ms = ${run.getP99Ratio.toFixed(2)}×`,
      });
    }
  }
  return targets;
}

function chartOf(r: Results): string {
  const kind = (id: string) =>
    (id.startsWith('ours') ? 'ours' : id === 'floor' ? 'floor' : 'peer') as 'ours' | 'peer' | 'floor';
  const panels: Panel[] = [];
  const bars = (outcomes: readonly Outcome[]) =>
    outcomes.filter(isMeasured).map((o) => ({ label: o.label, value: o.opsPerSec, kind: kind(o.id) }));
  if (r.cycle) {
    // MemoryStore never leaves the process: next to it the others would be slivers.
    const memory = r.cycle.contenders.find((o) => o.id === 'memory');
    panels.push({
      title: 'Store request cycle: get + touch, or set (10 %), 64 callers',
      unit: 'cycles/s',
      bars: bars(r.cycle.contenders.filter((o) => o.id !== 'memory')),
      ...(isMeasured(memory)
        ? { note: `express-session MemoryStore (in-process, off this scale): ${int(memory.opsPerSec)} cycles/s` }
        : {}),
    });
  }
  if (r.http) {
    panels.push({
      title: 'Express 5 + express-session, 32 connections, 10 % writes',
      unit: 'requests/s',
      bars: bars(r.http.contenders),
    });
  }
  if (r.micro) {
    panels.push({
      title: 'One call alone vs the same SQL by hand (same pool)',
      unit: 'calls/s',
      bars: [
        { label: 'ours get()', value: r.micro.get.ours.opsPerSec, kind: 'ours' },
        { label: 'floor SELECT', value: r.micro.get.floor.opsPerSec, kind: 'floor' },
        { label: 'ours set()', value: r.micro.set.ours.opsPerSec, kind: 'ours' },
        { label: 'floor upsert', value: r.micro.set.floor.opsPerSec, kind: 'floor' },
      ],
    });
  }
  const m = r.machine;
  return barChart(
    'connect-pg-simple 11 vs its peers',
    `${m.cpuModel}, ${m.cores} cores · Node ${m.node} · PostgreSQL ${m.postgres ?? 'n/a'} · Redis ${m.redis ?? 'n/a'} · pg pools of 10 · ${r.generatedAt.slice(0, 10)}`,
    panels,
  );
}

function readPrevious(): Partial<Results> {
  if (!existsSync(LATEST)) return {};
  try {
    return JSON.parse(readFileSync(LATEST, 'utf8')) as Partial<Results>;
  } catch {
    return {};
  }
}

async function main() {
  let settings: Settings;
  try {
    settings = parseSettings(process.argv.slice(2));
    // The child processes (HTTP servers, memory test) use the same schema.
    process.env.BENCH_SCHEMA = settings.schema;
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const started = performance.now();
  const admin = new PgAdmin(settings.databaseUrl, settings.schema);
  const [pgVersion, redisVersion] = await Promise.all([admin.probe(), probeRedis(settings.redisUrl)]);
  const machine: Machine = {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.versions.node,
    postgres: pgVersion ?? null,
    redis: redisVersion ?? null,
  };
  const safeUrl = (url: string) => url.replace(/\/\/[^@/]*@/, '//');
  log(
    `connect-pg-simple bench (${settings.quick ? 'quick' : 'full'}): ${[...settings.sections].join(', ')}\n` +
      `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGB} GB · Node ${machine.node}\n` +
      `PostgreSQL: ${pgVersion ?? `not reachable at ${safeUrl(settings.databaseUrl)}: its contenders are skipped`}\n` +
      `Redis: ${redisVersion ?? `not reachable at ${settings.redisUrl}: connect-redis is skipped`}`,
  );
  const noPg = pgVersion === undefined ? `PostgreSQL not reachable at ${safeUrl(settings.databaseUrl)}` : undefined;
  const noRedis = redisVersion === undefined ? `Redis not reachable at ${settings.redisUrl}` : undefined;
  const unavailable = (backend: string) => (backend === 'pg' ? noPg : backend === 'redis' ? noRedis : undefined);
  const only = process.env.BENCH_ONLY?.split(',');
  /** Why a contender is left out by `BENCH_ONLY`, if it is. */
  const chosen = (id: string) => (only !== undefined && !only.includes(id) ? 'not in BENCH_ONLY' : undefined);
  const env: BenchEnv = { settings, admin };
  const stamp = (): Stamp => ({ mode: settings.quick ? 'quick' : 'full', at: new Date().toISOString() });
  const results: Results = { ...readPrevious(), generatedAt: new Date().toISOString(), machine };
  const runs = (s: Section) => settings.sections.has(s);
  const needsPg = (s: Section) => {
    if (noPg === undefined) return true;
    log(`\n${s}: skipped (${noPg})`);
    return false;
  };

  // Ctrl-C: drop this run's schema (its tables may be big) before leaving.
  process.once('SIGINT', () => {
    log(`\ninterrupted: dropping schema ${settings.schema}`);
    const exit = () => process.exit(130);
    (noPg === undefined ? admin.dropSchema() : Promise.resolve()).then(exit, exit);
  });
  try {
    if (noPg === undefined) await admin.resetSchema();
    if (runs('cycle')) {
      log('\nStore request cycle (get, then set 10 % / touch 90 %), 64 callers, 5,000 sessions:');
      const contenders = await runCycle(env, (c) => chosen(c.id) ?? unavailable(c.backend), log);
      const ratios = ratiosOf(contenders, {
        oursVsV10: 'v10',
        oursVsRedis: 'redis',
        oursVsFloor: 'floor',
        oursVsMemory: 'memory',
      });
      results.cycle = { ...stamp(), contenders, ratios };
    }
    if (runs('micro') && needsPg('micro')) {
      log('\nMicro: one call alone vs the hand-written statement, same pool and table, 64 callers:');
      results.micro = { ...stamp(), ...(await runMicro(env, log)), targets: MICRO_TARGETS };
    }
    if (runs('http')) {
      log('\nHTTP: Express 5 + express-session (resave false, saveUninitialized false), 32 connections, 10 % writes:');
      const contenders = await runHttp(env, (c) => chosen(c.id) ?? unavailable(c.backend), log);
      const ratios = ratiosOf(contenders, { oursVsV10: 'v10', oursVsRedis: 'redis', oursVsMemory: 'memory' });
      results.http = { ...stamp(), contenders, ratios };
    }
    if (runs('memory') && needsPg('memory')) {
      log(`\nMemory: ${int(settings.memory.operations)} operations on ours (get/set/touch mix), heap after gc():`);
      results.memory = { ...stamp(), ...(await runMemory(env, log)) };
    }
    if (runs('prune') && needsPg('prune')) {
      log(
        `\nPrune: ${int(settings.prune.expired)} expired + ${int(settings.prune.live)} live sessions, pruned by ours under the request-cycle load:`,
      );
      results.prune = { ...stamp(), ...(await runPrune(env, log)), targets: PRUNE_TARGETS };
    }
    if (runs('partitions') && needsPg('partitions')) {
      const { rows, days } = settings.partitions;
      log(
        `\nPartitions: ${int(rows)} sessions created over ${days} days, in a plain and in a partitioned table, each pruned of its oldest day under the request-cycle load:`,
      );
      const load = `load average ${os
        .loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')} at the start`;
      results.partitions = { ...stamp(), ...(await runPartitions(env, log)), load };
    }
  } finally {
    if (noPg === undefined) await admin.dropSchema().catch(() => {});
    await admin.close();
  }

  // The summary: of this run, plus earlier runs' sections (from latest.json) that this one did not redo.
  log(`\n${'='.repeat(100)}\nSummary (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  const fromEarlier = (s: Stamp | undefined, section: Section) =>
    s !== undefined && !runs(section) ? ` [from an earlier run, ${s.mode}, ${s.at}]` : '';
  if (results.cycle) {
    log(
      `\nStore request cycle${fromEarlier(results.cycle, 'cycle')}\n${outcomeTable(results.cycle.contenders, 'cycles/s', true)}`,
    );
  }
  if (results.micro) {
    const { get, set, getSameSql: same } = results.micro;
    log(
      `\nMicro${fromEarlier(results.micro, 'micro')}\n${textTable(
        [
          { title: 'call', align: 'left' },
          { title: 'calls/s' },
          { title: 'p50 ms' },
          { title: 'p99 ms' },
          { title: 'CPU µs' },
          { title: 'ours ÷ floor' },
        ],
        [get.ours, get.floor, ...(same ? [same.floor] : []), set.ours, set.floor].map((m) => [
          m.label,
          int(m.opsPerSec),
          ms(m.p50Ms),
          ms(m.p99Ms),
          int(m.cpuUsPerOp),
          m === get.ours
            ? ratio(get.ratio)
            : m === set.ours
              ? ratio(set.ratio)
              : m === same?.floor
                ? `(${ratio(same.ratio)})`
                : '',
        ]),
      )}`,
    );
  }
  if (results.http) {
    log(`\nHTTP${fromEarlier(results.http, 'http')}\n${outcomeTable(results.http.contenders, 'req/s', false)}`);
  }
  if (results.memory) {
    const m = results.memory;
    log(
      `\nMemory${fromEarlier(results.memory, 'memory')}: ${int(m.operations)} operations at ${int(m.opsPerSec)}/s; heap growth ${m.deltaAfterWarmupMB.toFixed(2)} MB after warmup, ${m.deltaTotalMB.toFixed(2)} MB in all (${m.samples.map((s) => `${s.heapUsedMB.toFixed(1)} MB`).join(' → ')})`,
    );
  }
  if (results.prune) {
    log(
      `\nPrune${fromEarlier(results.prune, 'prune')}: ${int(results.prune.expired)} expired + ${int(results.prune.live)} live\n${textTable(
        [
          { title: 'batch' },
          { title: 'done' },
          { title: 'rows/s' },
          { title: 'stmts' },
          { title: 'stmt p50' },
          { title: 'stmt max ms' },
          { title: `> ${PRUNE_TARGETS.maxStatementMs} ms` },
          { title: 'get p99 before' },
          { title: 'during' },
          { title: 'ratio' },
          { title: 'cycles/s before' },
          { title: 'during' },
        ],
        results.prune.runs.map((r) => [
          String(r.batchSize),
          r.finished ? `${r.seconds.toFixed(1)} s` : 'NO',
          int(r.rowsPerSec),
          String(r.statements),
          ms(r.statementP50Ms),
          ms(r.statementMaxMs),
          String(r.statementsOverTarget ?? 'n/a'),
          ms(r.baseline.getP99Ms),
          ms(r.during.getP99Ms),
          ratio(r.getP99Ratio),
          int(r.baseline.cyclesPerSec),
          int(r.during.cyclesPerSec),
        ]),
      )}`,
    );
  }
  if (results.partitions) {
    const p = results.partitions;
    log(
      `\nPartitions${fromEarlier(p, 'partitions')}: ${int(p.rows)} sessions over ${p.days} days, the oldest day's (${int(p.expiredDay)}) pruned (${p.load})\n${textTable(
        [
          { title: 'layout' },
          { title: 'pruned' },
          { title: 'in' },
          { title: 'stmts' },
          { title: 'slowest ms' },
          { title: 'get p99 before' },
          { title: 'during' },
          { title: 'get max during' },
          { title: 'MB before' },
          { title: 'after' },
          { title: 'dead after' },
        ],
        p.runs.map((r) => [
          r.layout,
          int(r.pruned),
          `${r.pruneSeconds.toFixed(2)} s`,
          String(r.statements),
          ms(r.statementMaxMs),
          ms(r.baseline.getP99Ms),
          ms(r.during.getP99Ms),
          ms(r.during.getMaxMs),
          int(r.before.totalBytes / 1048576),
          int(r.after.totalBytes / 1048576),
          int(r.after.deadTuples),
        ]),
      )}\n${textTable(
        [{ title: 'get: partitions probed' }, { title: 'rows' }, { title: 'p50 µs' }, { title: 'p99 µs' }],
        p.getByPartitions.map((g) => [
          g.partitions === 0 ? 'plain table' : String(g.partitions),
          int(g.rows),
          int(g.getP50Ms * 1000),
          int(g.getP99Ms * 1000),
        ]),
      )}`,
    );
  }
  const show = (name: string, r: Ratios | undefined) =>
    r === undefined
      ? []
      : Object.entries(r).map(([k, v]) => `${name}: ours ÷ ${PEER_NAMES[k] ?? k}: ${ratio(v ?? undefined)}`);
  const ratioLines = [...show('cycle', results.cycle?.ratios), ...show('http', results.http?.ratios)];
  if (ratioLines.length > 0) log(`\nRatios\n  ${ratioLines.join('\n  ')}`);
  const targets = targetsOf(results);
  if (targets.length > 0) {
    log(`\nTargets\n${targets.map((t) => `  ${t.met ? 'met    ' : 'NOT MET'}  ${t.what}: ${t.detail}`).join('\n')}`);
  }

  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(LATEST, `${JSON.stringify({ ...results, targets }, null, 2)}\n`);
  writeFileSync(CHART, chartOf(results));
  log(`\nWrote ${LATEST} and ${CHART}`);
}

main().catch((error: unknown) => {
  console.error('bench failed:', error);
  process.exit(1);
});
