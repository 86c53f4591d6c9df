#!/usr/bin/env node
// npm run test:cluster: test/cluster.test.ts, on a PostgreSQL primary and streaming replica it builds on
// loopback ports with Debian's pg_createcluster and pg_basebackup (as root). Skips, saying why, where
// that cannot be done (in CI, fails instead). Every cluster it made is dropped at the end, whatever happened.
import { execFileSync, spawn } from 'node:child_process';
import { clusterToolsMissing, removeLeftConfiguration } from '../test/support/cluster.ts';

const reason = clusterToolsMissing();
if (reason !== undefined) {
  // CI builds the clusters (it runs as root, with Debian's postgresql): there this is a failure.
  if (process.env.CI) {
    console.error(`test:cluster cannot run: ${reason} (CI must run every suite)`);
    process.exit(1);
  }
  console.log(`test:cluster skipped: ${reason}`);
  process.exit(0);
}

const prefix = `cps_${process.pid}_`;
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/cluster.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, CPS_CLUSTER_PREFIX: prefix },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));

// The test drops its clusters itself; this is for a test that died before it could.
const listing = execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' });
for (const [version, name] of listing.split('\n').map((line) => line.trim().split(/\s+/))) {
  if (!name?.startsWith(prefix)) continue;
  console.log(`test:cluster: dropping ${version} ${name}, left behind`);
  execFileSync('pg_dropcluster', ['--stop', version, name], { stdio: 'inherit' });
  removeLeftConfiguration(version, name);
}
process.exit(code);
