#!/usr/bin/env node
// The core of the store's behaviour (test/runtimes/core.mjs) on Bun (with pg, and with Bun.sql through the `postgres`
// option) and on Deno (with pg), each runtime from its npm package (dev dependencies `bun` and `deno`). A runtime whose
// binary is absent is skipped with the reason, except in CI (CI=true), where that is a failure. Against DATABASE_URL,
// or a throwaway PostgreSQL.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedPostgres } from './embedded-postgres.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => resolve(root, 'node_modules/.bin', name);
const core = 'test/runtimes/core.mjs';
const legs = [
  { runtime: 'bun', args: [core, 'pg'] },
  { runtime: 'bun', args: [core, 'bun-sql'] },
  { runtime: 'deno', args: ['run', '--allow-all', core, 'pg'] },
];

let server;
if (!process.env.DATABASE_URL) {
  server = await startEmbeddedPostgres();
  process.env.DATABASE_URL = server.url;
}

let failed = 0;
for (const { runtime, args } of legs) {
  const what = `${runtime} ${args.at(-1)}`;
  if (!existsSync(bin(runtime))) {
    const reason = `${what}: skipped, ${bin(runtime)} is absent (npm ci installs it from the ${runtime} package)`;
    if (process.env.CI) {
      console.error(`${reason}: CI must run every runtime`);
      failed++;
    } else {
      console.log(reason);
    }
    continue;
  }
  const run = spawnSync(bin(runtime), args, { cwd: root, stdio: 'inherit', env: process.env, timeout: 180_000 });
  if (run.status !== 0) {
    console.error(`${what}: failed (${run.error?.message ?? `exit ${run.status ?? run.signal}`})`);
    failed++;
  }
}
if (server) await server.destroy();
process.exit(failed === 0 ? 0 : 1);
