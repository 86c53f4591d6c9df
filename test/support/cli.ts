import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { main } from '../../src/cli/main.js';
import { databaseUrl } from './database.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process, through main(), as the binary does: its output and exit code. */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io = {
    out: (text: string) => {
      stdout += text;
    },
    err: (text: string) => {
      stderr += text;
    },
    errIsTTY: false,
  };
  const code = await main(args, io, { DATABASE_URL: databaseUrl(), ...env });
  return { code, stdout, stderr };
}

/**
 * The environment of the CLI as a child process: PATH and this suite's DATABASE_URL, then `env` over them;
 * a variable set to undefined in `env` is left out.
 */
export function cliEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries({ PATH: process.env.PATH, DATABASE_URL: databaseUrl(), ...env }).filter(([, v]) => v !== undefined),
  ) as NodeJS.ProcessEnv;
}

/** The built CLI as a child process (`npm run build` first), for signals and exit codes. */
export function spawnCli(
  args: string[],
  env: Record<string, string | undefined> = {},
): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [resolve(__dirname, '../../dist/cli/main.js'), ...args], {
    env: cliEnv(env),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const done = new Promise<CliRun>((settle) =>
    child.on('close', (code, signal) => settle({ code: code ?? (signal === null ? -1 : 128), stdout, stderr })),
  );
  return { child, done };
}

/** An error as scripts should see it: exit code, one line on stderr, no stack trace, nothing on stdout. */
export function assertCliFailure(run: CliRun, code: number, message: RegExp): void {
  assert.equal(run.code, code, `exit code (stderr: ${run.stderr})`);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /^connect-pg-simple: [^\n]+\n$/);
  assert.match(run.stderr, message);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
}
