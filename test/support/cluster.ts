import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../scripts/embedded-postgres.mjs';

/**
 * A real PostgreSQL primary and streaming replica on loopback ports, built with Debian's
 * `pg_createcluster` and `pg_basebackup -R` (run as root; the clusters run as `postgres`).
 * Every cluster made here is named with `prefix`; `dropClusters(prefix)` removes them all.
 */

const TOOLS = ['pg_createcluster', 'pg_ctlcluster', 'pg_dropcluster', 'pg_lsclusters', 'pg_basebackup'];

/** Why clusters cannot be built here, in one line; undefined when they can. */
export function clusterToolsMissing(): string | undefined {
  const missing = TOOLS.filter((tool) => {
    try {
      accessSync(join('/usr/bin', tool), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) return `${missing.join(', ')} not found: apt-get install postgresql`;
  if (process.getuid?.() !== 0) return 'not root: pg_createcluster needs root (the clusters run as "postgres")';
  if (postgresVersion() === undefined) return 'no PostgreSQL server in /usr/lib/postgresql';
  return undefined;
}

export function postgresVersion(): string | undefined {
  try {
    return readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(a) - Number(b))
      .at(-1);
  } catch {
    return undefined;
  }
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr}`);
  }
}

const ctl = (version: string, name: string, action: string, ...rest: string[]) =>
  run('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, action, ...rest]);

const TRUST_LOOPBACK = [
  'local all all trust',
  'host all all 127.0.0.1/32 trust',
  'local replication all trust',
  'host replication all 127.0.0.1/32 trust',
  '',
].join('\n');

function settingsFile(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([key, value]) => `${key} = '${value.replaceAll("'", "''")}'\n`)
    .join('');
}

export class ClusterNode {
  constructor(
    readonly version: string,
    readonly name: string,
    readonly port: number,
  ) {}

  url(database = 'cps', query = ''): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}${query}`;
  }

  get dataDirectory(): string {
    return `/var/lib/postgresql/${this.version}/${this.name}`;
  }

  start(): void {
    ctl(this.version, this.name, 'start');
  }

  /** `immediate`: as a crash; the node stays down (fenced) until started again. */
  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    ctl(this.version, this.name, 'stop', '-m', mode);
  }

  /** Settings of this node only (never copied to a replica), in effect after a reload. */
  configure(settings: Record<string, string>): void {
    writeFileSync(`/etc/postgresql/${this.version}/${this.name}/conf.d/cps-later.conf`, settingsFile(settings));
    ctl(this.version, this.name, 'reload');
  }

  promote(): void {
    ctl(this.version, this.name, 'promote');
  }

  async query(text: string, values: unknown[] = [], database = 'cps'): Promise<Record<string, any>[]> {
    const client = new pg.Client({ connectionString: this.url(database) });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query(text, values)).rows;
    } finally {
      await client.end();
    }
  }
}

/** `pg_createcluster` with the given settings, trust auth on loopback, not started. */
async function createCluster(name: string, settings: Record<string, string>): Promise<ClusterNode> {
  const version = postgresVersion()!;
  const port = await freePort();
  run('pg_createcluster', [version, name, '-p', String(port)]);
  const config = `/etc/postgresql/${version}/${name}`;
  writeFileSync(`${config}/pg_hba.conf`, TRUST_LOOPBACK);
  // Debian's postgresql.conf includes conf.d: this node's own settings, never copied to a replica.
  writeFileSync(`${config}/conf.d/cps.conf`, settingsFile({ listen_addresses: '127.0.0.1', ...settings }));
  return new ClusterNode(version, name, port);
}

export async function createPrimary(name: string, settings: Record<string, string> = {}): Promise<ClusterNode> {
  const node = await createCluster(name, settings);
  node.start();
  await node.query('CREATE DATABASE cps', [], 'postgres');
  return node;
}

/** A streaming replica of `primary`: its data directory replaced by `pg_basebackup -R`. */
export async function createReplica(
  name: string,
  primary: ClusterNode,
  settings: Record<string, string> = {},
): Promise<ClusterNode> {
  const node = await createCluster(name, settings);
  run('sh', ['-c', `rm -rf '${node.dataDirectory}'/*`]);
  run('runuser', [
    '-u',
    'postgres',
    '--',
    'pg_basebackup',
    '-h',
    '127.0.0.1',
    '-p',
    String(primary.port),
    '-U',
    'postgres',
    '-D',
    node.dataDirectory,
    '-R',
    '-X',
    'stream',
    '-c',
    'fast',
  ]);
  // The replica names itself to the primary, for synchronous_standby_names and pg_stat_replication.
  const auto = join(node.dataDirectory, 'postgresql.auto.conf');
  writeFileSync(
    auto,
    readFileSync(auto, 'utf8').replace(/primary_conninfo = '/, `primary_conninfo = 'application_name=${name} `),
  );
  node.start();
  return node;
}

/** Stops and removes every cluster whose name starts with `prefix`; never throws. */
export function dropClusters(prefix: string): string[] {
  const dropped: string[] = [];
  let listing = '';
  try {
    listing = run('pg_lsclusters', ['--no-header']);
  } catch {
    return dropped;
  }
  for (const line of listing.split('\n')) {
    const [version, name] = line.trim().split(/\s+/);
    if (version === undefined || name === undefined || !name.startsWith(prefix)) continue;
    try {
      ctl(version, name, 'stop', '-m', 'immediate');
    } catch {
      // Not running.
    }
    try {
      run('pg_dropcluster', ['--stop', version, name]);
      removeLeftConfiguration(version, name);
      dropped.push(name);
    } catch {
      // Left for the next run's clean-up, which drops by the same prefix.
    }
  }
  return dropped;
}

/**
 * pg_dropcluster leaves the cluster's configuration folder behind when it holds files it did not
 * make (the conf.d files these tests write): removed with the cluster.
 */
export function removeLeftConfiguration(version: string, name: string): void {
  rmSync(join('/etc/postgresql', version, name), { recursive: true, force: true });
}
