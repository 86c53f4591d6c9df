import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from '../../scripts/embedded-postgres.mjs';

/**
 * PgBouncer from the system (Debian's `pgbouncer` package; `.ci/install-system-packages` installs it), found on
 * PATH. Without it the suites that need it skip with this reason, except in CI, where they fail.
 */
export function pgbouncerMissing(): string | undefined {
  const found = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        accessSync(join(dir, 'pgbouncer'), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  return found ? undefined : 'pgbouncer not installed (not on PATH): apt-get install pgbouncer';
}

export function pgbouncerVersion(): [number, number, number] {
  const missing = pgbouncerMissing();
  if (missing) throw new Error(missing);
  const output = execFileSync('pgbouncer', ['--version'], { encoding: 'utf8' });
  const match = /PgBouncer (\d+)\.(\d+)\.(\d+)/.exec(output);
  if (!match) throw new Error(`cannot read the pgbouncer version from: ${output}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/** PgBouncer 1.21 added `max_prepared_statements`: named statements across transaction pooling. */
export function pgbouncerTracksPreparedStatements(): boolean {
  const [major, minor] = pgbouncerVersion();
  return major > 1 || (major === 1 && minor >= 21);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface PgBouncer {
  /** A connection string to the same database, through PgBouncer. */
  readonly url: string;
  readonly version: string;
  /** Points PgBouncer at another server (as a failover manager does): the ini rewritten, then a reload (SIGHUP). */
  retarget(serverUrl: string): void;
  stop(): Promise<void>;
}

export interface PgBouncerSettings {
  /** `max_prepared_statements` (PgBouncer ≥ 1.21); 0 or absent: PgBouncer does not track them. */
  readonly maxPreparedStatements?: number;
  readonly poolSize?: number;
  /** `server_login_retry`: how long PgBouncer waits after a failed server login (its default: 15 s). */
  readonly serverLoginRetrySeconds?: number;
}

/** PgBouncer's connection string for the server `serverUrl` names. */
function connectTo(serverUrl: string): string {
  const server = new URL(serverUrl);
  return [
    `host=${server.hostname || '127.0.0.1'}`,
    `port=${server.port || '5432'}`,
    `dbname=${decodeURIComponent(server.pathname.slice(1))}`,
    `user=${decodeURIComponent(server.username || 'postgres')}`,
    server.password ? `password=${decodeURIComponent(server.password)}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** Starts PgBouncer in transaction pooling mode on a free loopback port, in front of `serverUrl`. */
export async function startPgBouncer(serverUrl: string, settings: PgBouncerSettings = {}): Promise<PgBouncer> {
  const version = pgbouncerVersion().join('.');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cps-pgbouncer-'));
  // Readable by the user PgBouncer runs as, which reads the ini again on a reload.
  chmodSync(dir, 0o755);
  const lines = (target: string) => [
    '[databases]',
    `cps = ${connectTo(target)}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    // Clients log in as anyone without a password; PgBouncer logs in to the server as `user`.
    'auth_type = any',
    'pool_mode = transaction',
    `default_pool_size = ${settings.poolSize ?? 4}`,
    'max_client_conn = 200',
    'ignore_startup_parameters = extra_float_digits,options',
    'server_reset_query =',
    ...(settings.maxPreparedStatements ? [`max_prepared_statements = ${settings.maxPreparedStatements}`] : []),
    ...(settings.serverLoginRetrySeconds ? [`server_login_retry = ${settings.serverLoginRetrySeconds}`] : []),
  ];
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(ini, `${lines(serverUrl).join('\n')}\n`);

  // PgBouncer refuses to run as root: it switches to the `postgres` user (-u) after reading its config.
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn('pgbouncer', [...(asRoot ? ['-u', 'postgres'] : []), ini], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer ${version} did not start on port ${port}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `postgres://cps@127.0.0.1:${port}/cps`,
    version,
    retarget(serverUrl: string) {
      writeFileSync(ini, `${lines(serverUrl).join('\n')}\n`);
      child.kill('SIGHUP');
    },
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
