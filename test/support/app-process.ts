import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(__dirname, '../..');
const preload = resolve(__dirname, 'listen-on-free-port.mjs');

/** A program that serves HTTP, run as a user would run it, on a free port (see listen-on-free-port.mjs). */
export interface AppProcess {
  readonly base: string;
  /** What it wrote so far, stdout and stderr. */
  output(): string;
  /** SIGTERM, then the exit code or signal. */
  stop(): Promise<number | string>;
}

/** Fails when the program exits, or has not listened within `startLimitMs`: a hang guard, not a timing check (PGlite alone may take half a minute to start on a loaded machine). */
export async function startAppProcess(
  file: string,
  env: Record<string, string | undefined>,
  startLimitMs = 120_000,
  cwd = root,
): Promise<AppProcess> {
  const typescript = /\.[cm]?ts$/.test(file);
  const loaders = [...(typescript ? ['--import', 'tsx'] : []), '--import', preload];
  const child: ChildProcess = spawn(process.execPath, [...loaders, file], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | string>((done) =>
    // 'close', not 'exit': the child's last output may still be in its pipes when it exits.
    child.once('close', (code, signal) => done(code ?? signal ?? 'unknown')),
  );
  const started = new Promise<number>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`${file} did not listen within ${startLimitMs} ms:\n${output}`)),
      startLimitMs,
    );
    child.on('message', (message: { listening?: number }) => {
      if (message.listening === undefined) return;
      clearTimeout(timer);
      done(message.listening);
    });
    void exited.then((how) => {
      clearTimeout(timer);
      fail(new Error(`${file} exited (${how}) before it listened:\n${output}`));
    });
  });
  let port: number;
  try {
    port = await started;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    base: `http://127.0.0.1:${port}`,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
