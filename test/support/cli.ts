import { main } from '../../src/cli/main.js';
import { databaseUrl } from './database.js';

/** What one run of the CLI printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process, through main(), as the binary does, on the test database. */
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
