/**
 * The app of the HTTP benchmark, run in a child process of its own (so that the load generator
 * does not share its event loop): Express 5 + express-session with one of the stores.
 * Configured by the BENCH_HTTP environment variable (JSON); reports its port over IPC.
 */

import type { Server } from 'node:http';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { connectRedis, newPgPool, oursStoreClass } from './lib/contenders.js';
import { DAY_MS } from './lib/sessions.js';
import { parseSettings } from './lib/settings.js';
import { statementsSent } from './lib/statement-count.js';

declare module 'express-session' {
  interface SessionData {
    user: { id: number; name: string; roles: string[] };
    views: number;
  }
}

export interface HttpServerConfig {
  readonly store: 'ours' | 'ours-uncached' | 'ours-async-commit' | 'ours-pipelined' | 'v10' | 'redis' | 'memory';
  readonly table: string;
  readonly argv: readonly string[];
}

const connectPgSimple10: (s: typeof session) => new (options: Record<string, unknown>) => session.Store =
  require('connect-pg-simple10');

async function main() {
  const config = JSON.parse(process.env.BENCH_HTTP ?? '{}') as HttpServerConfig;
  const settings = parseSettings(config.argv);
  const closers: (() => Promise<unknown>)[] = [];
  let store: session.Store;
  switch (config.store) {
    case 'ours':
    case 'ours-uncached':
    case 'ours-async-commit': {
      const pool = newPgPool(settings);
      const ours = new (oursStoreClass())({
        pool,
        schemaName: settings.schema,
        tableName: config.table,
        ...(config.store === 'ours-uncached' ? { readCache: false } : {}),
        ...(config.store === 'ours-async-commit' ? { synchronousCommit: false } : {}),
      });
      closers.push(
        () => ours.close(),
        () => pool.end(),
      );
      store = ours;
      break;
    }
    case 'ours-pipelined': {
      const ours = new (oursStoreClass())({
        conString: settings.databaseUrl,
        schemaName: settings.schema,
        tableName: config.table,
      });
      closers.push(() => ours.close());
      store = ours;
      break;
    }
    case 'v10': {
      const pool = newPgPool(settings);
      store = new (connectPgSimple10(session))({ pool, schemaName: settings.schema, tableName: config.table });
      closers.push(
        () => (store as unknown as { close(): Promise<void> }).close(),
        () => pool.end(),
      );
      break;
    }
    case 'redis': {
      const client = await connectRedis(settings.redisUrl);
      store = new RedisStore({ client, prefix: `${settings.schema}:${config.table}:` });
      closers.push(() => client.quit());
      break;
    }
    case 'memory':
      store = new session.MemoryStore();
      break;
    default:
      throw new Error(`unknown store ${String(config.store)}`);
  }

  const app = express();
  app.disable('x-powered-by');
  app.use(
    session({
      store,
      secret: 'connect-pg-simple bench',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: DAY_MS, httpOnly: true, sameSite: 'lax' },
    }),
  );
  let nextUser = 0;
  app.get('/login', (req, res) => {
    const id = nextUser++;
    req.session.user = { id, name: `user${id}@example.com`, roles: ['reader', 'writer'] };
    req.session.views = 0;
    res.send('ok');
  });
  // A page that reads the session: express-session then touches it.
  app.get('/r', (req, res) => {
    if (req.session.user === undefined) {
      res.status(401).send('no session');
      return;
    }
    res.json({ user: req.session.user.id, views: req.session.views });
  });
  // A page that changes the session: express-session then saves it.
  app.get('/w', (req, res) => {
    if (req.session.user === undefined) {
      res.status(401).send('no session');
      return;
    }
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ user: req.session.user.id, views: req.session.views });
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 });
  process.on('message', async (message) => {
    // The app's own CPU (user + system, µs) and pg statements so far: the bench takes them before and after a round.
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send?.({ cpuUs: user + system, statements: statementsSent() });
      return;
    }
    if (message !== 'stop') return;
    server.closeAllConnections();
    server.close();
    for (const close of closers) await close().catch(() => {});
    process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
}

main().catch((error: unknown) => {
  console.error('bench http server:', error instanceof Error ? error.message : error);
  process.exit(1);
});
