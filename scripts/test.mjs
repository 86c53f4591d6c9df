#!/usr/bin/env node
// Runs the test files against DATABASE_URL, or against a throwaway PostgreSQL (see embedded-postgres.mjs).
// Without arguments: every test/*.test.ts except the slow ones, which have scripts of their own (test:chaos, test:cluster).
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { startEmbeddedPostgres } from './embedded-postgres.mjs';

const SLOW = new Set(['chaos.test.ts', 'cluster.test.ts']);

const args = process.argv.slice(2);
const files =
  args.length > 0
    ? args
    : readdirSync('test')
        .filter((f) => f.endsWith('.test.ts') && !SLOW.has(f))
        .sort()
        .map((f) => `test/${f}`);

let server;
if (!process.env.DATABASE_URL) {
  server = await startEmbeddedPostgres();
  process.env.DATABASE_URL = server.url;
  console.log(`DATABASE_URL not set: testing against a throwaway PostgreSQL at ${server.url}`);
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { stdio: 'inherit', env: process.env },
);
// Ctrl-C reaches the test runner too (same process group); wait for it, then stop the server.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
if (server) await server.destroy();
process.exit(code);
