import { type ChildProcess, fork } from 'node:child_process';
import autocannon from 'autocannon';
import { type Measured, type Outcome, summarize } from './cycle.js';
import type { HttpServerConfig } from './http-server.js';
import { type BenchEnv, connectRedis, deleteRedisPrefix } from './lib/contenders.js';
import { Histogram } from './lib/histogram.js';
import { type LoadResult, type Turn, takeTurns } from './lib/load.js';

interface HttpContender {
  readonly id: string;
  readonly label: string;
  readonly store: HttpServerConfig['store'];
  readonly backend: 'pg' | 'redis' | 'none';
}

export const HTTP_CONTENDERS: readonly HttpContender[] = [
  { id: 'ours', label: 'ours (pg.Pool, defaults)', store: 'ours', backend: 'pg' },
  { id: 'ours-uncached', label: 'ours, readCache:false (pg.Pool)', store: 'ours-uncached', backend: 'pg' },
  {
    id: 'ours-async-commit',
    label: 'ours, synchronousCommit:false (pg.Pool)',
    store: 'ours-async-commit',
    backend: 'pg',
  },
  { id: 'ours-pipelined', label: 'ours (conString: pipelined by default)', store: 'ours-pipelined', backend: 'pg' },
  { id: 'v10', label: 'connect-pg-simple 10.0.0', store: 'v10', backend: 'pg' },
  { id: 'redis', label: 'connect-redis 9 (redis 6)', store: 'redis', backend: 'redis' },
  { id: 'memory', label: 'express-session MemoryStore', store: 'memory', backend: 'none' },
];

interface RunningServer {
  readonly child: ChildProcess;
  readonly port: number;
  /** One session cookie per connection, made by /login. */
  readonly cookies: readonly string[];
}

const START_TIMEOUT_MS = 30_000;

async function startServer(config: HttpServerConfig): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(`${__dirname}/http-server.ts`, [], {
    // BENCH_CPU_PROFILE=<dir>: each app process writes a V8 CPU profile there (open it in Chrome's DevTools).
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : []),
    ],
    env: { ...process.env, BENCH_HTTP: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server did not start in time')), START_TIMEOUT_MS);
      child.once('message', (m: { port?: number }) => {
        clearTimeout(timer);
        if (typeof m?.port === 'number' && m.port > 0) resolve(m.port);
        else reject(new Error('the server reported no port'));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the server exited with code ${code}`));
      });
    });
    return { child, port };
  } catch (error) {
    child.kill();
    throw error;
  }
}

/** The app process's CPU time so far (µs) and the pg statements it sent, as it reports them. */
function appUsage(child: ChildProcess): Promise<{ cpuUs: number; statements: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not report its CPU time')), 5000);
    const answer = (m: { cpuUs?: number; statements?: number }) => {
      if (typeof m?.cpuUs !== 'number') return;
      clearTimeout(timer);
      child.off('message', answer);
      resolve({ cpuUs: m.cpuUs, statements: m.statements ?? 0 });
    };
    child.on('message', answer);
    child.send('cpu');
  });
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send('stop');
  const timer = setTimeout(() => child.kill(), 5000);
  await exited;
  clearTimeout(timer);
}

/** Logs in once per connection: each connection then keeps its own session, as a browser would. */
async function login(port: number, count: number): Promise<string[]> {
  const cookies: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/login`);
    const cookie = response.headers.get('set-cookie')?.split(';')[0];
    await response.text();
    if (!response.ok || cookie === undefined) throw new Error(`/login answered ${response.status} without a cookie`);
    const check = await fetch(`http://127.0.0.1:${port}/r`, { headers: { cookie } });
    await check.text();
    if (!check.ok) throw new Error(`a fresh session was not found (/r answered ${check.status})`);
    cookies.push(cookie);
  }
  return cookies;
}

/**
 * `connections` autocannon instances of one connection each, so that each connection sends its
 * own cookie; one request in ten goes to /w (changes the session), the rest to /r.
 */
async function drive(server: RunningServer, seconds: number, writeShare: number): Promise<LoadResult> {
  const before = await appUsage(server.child);
  const result = await load(server, seconds, writeShare);
  const after = await appUsage(server.child);
  const perRequest = (n: number) => (result.completed > 0 ? n / result.completed : 0);
  return {
    ...result,
    cpuUsPerOp: perRequest(after.cpuUs - before.cpuUs),
    statementsPerOp: perRequest(after.statements - before.statements),
  };
}

function load(server: RunningServer, seconds: number, writeShare: number): Promise<LoadResult> {
  const latency = new Histogram();
  const runs = server.cookies.map(
    (cookie) =>
      new Promise<autocannon.Result>((resolve, reject) => {
        const instance = autocannon(
          {
            url: `http://127.0.0.1:${server.port}`,
            connections: 1,
            duration: seconds,
            timeout: 10,
            headers: { cookie },
            requests: [
              { method: 'GET', setupRequest: (r) => ({ ...r, path: Math.random() < writeShare ? '/w' : '/r' }) },
            ],
          },
          (error, result) => (error ? reject(error) : resolve(result)),
        );
        instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
          if (status < 300) latency.record(ms);
        });
      }),
  );
  return Promise.all(runs).then((results) => {
    const ok = results.reduce((n, r) => n + r['2xx'], 0);
    const errors = results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
    return {
      ops: ok,
      completed: ok,
      seconds,
      opsPerSec: ok / seconds,
      latency,
      errors,
      firstError: errors > 0 ? `${errors} failed requests (non-2xx, errors or timeouts)` : undefined,
      cpuUsPerOp: 0,
    };
  });
}

export async function runHttp(
  env: BenchEnv,
  unavailable: (contender: HttpContender) => string | undefined,
  log: (line: string) => void,
) {
  const { settings, admin } = env;
  const outcomes = new Map<string, Outcome>();
  const servers: { contender: HttpContender; server: RunningServer }[] = [];
  try {
    for (const contender of HTTP_CONTENDERS) {
      const why = unavailable(contender);
      if (why !== undefined) {
        log(`  ${contender.label}: skipped (${why})`);
        outcomes.set(contender.id, { id: contender.id, label: contender.label, skipped: why });
        continue;
      }
      const table = `http_${contender.id}`;
      if (contender.store.startsWith('ours')) await admin.createOursTable(table);
      if (contender.store === 'v10') await admin.createV10Table(table);
      if (contender.store === 'redis') {
        const client = await connectRedis(settings.redisUrl);
        await deleteRedisPrefix(client, `${settings.schema}:${table}:`);
        await client.quit();
      }
      let started: { child: ChildProcess; port: number } | undefined;
      try {
        started = await startServer({ store: contender.store, table, argv: settings.quick ? ['--quick'] : [] });
        const cookies = await login(started.port, settings.http.connections);
        servers.push({ contender, server: { ...started, cookies } });
      } catch (error) {
        if (started !== undefined) await stopServer(started.child);
        const why = `server failed: ${error instanceof Error ? error.message : String(error)}`;
        log(`  ${contender.label}: skipped (${why})`);
        outcomes.set(contender.id, { id: contender.id, label: contender.label, skipped: why });
      }
    }
    const turns: Turn[] = servers.map(({ contender, server }) => ({
      key: contender.id,
      run: async (warmupMs, durationMs) => {
        const warmup = warmupMs > 0 ? await drive(server, warmupMs / 1000, settings.http.writeShare) : undefined;
        return durationMs > 0 || warmup === undefined
          ? drive(server, durationMs / 1000, settings.http.writeShare)
          : { ...warmup, ops: 0, seconds: 0, opsPerSec: 0, latency: new Histogram() };
      },
    }));
    const results = await takeTurns(turns, settings.http);
    for (const { contender } of servers) {
      const result = results.get(contender.id)!;
      const measured: Measured = {
        ...summarize(contender.id, contender.label, result),
        ...(contender.backend === 'pg' && result.statementsPerOp !== undefined
          ? { statementsPerOp: result.statementsPerOp }
          : {}),
      };
      outcomes.set(contender.id, measured);
      log(
        `  ${contender.label}: ${Math.round(measured.opsPerSec)} req/s, p50 ${measured.p50Ms.toFixed(2)} ms, p99 ${measured.p99Ms.toFixed(2)} ms, app CPU ${Math.round(measured.cpuUsPerOp)} µs/request${measured.statementsPerOp === undefined ? '' : `, ${measured.statementsPerOp.toFixed(3)} statements/request`}${measured.errors ? `, ${measured.errors} errors` : ''}`,
      );
    }
  } finally {
    for (const { server } of servers) await stopServer(server.child);
    if (servers.some(({ contender }) => contender.backend === 'redis')) {
      const client = await connectRedis(settings.redisUrl);
      await deleteRedisPrefix(client, `${settings.schema}:`);
      await client.quit();
    }
  }
  return HTTP_CONTENDERS.map((c) => outcomes.get(c.id)!);
}
