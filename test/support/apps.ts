import { after, before } from 'node:test';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { databaseUrl, uniqueName } from './database.js';
import { type SessionRows, sessionRows } from './session-rows.js';

/** A test file's own schema and pool, and what to close before they go. Call at the top of a `describe`. */
export interface TestSchema {
  readonly pool: pg.Pool;
  readonly schemaName: string;
  /** The rows of table `session` in this schema, read outside the store. */
  readonly rows: SessionRows;
  /** Closed in reverse order of adding, before the schema is dropped. */
  onClose(close: () => Promise<unknown>): void;
  /** What a store needs to use table `tableName` in this schema. */
  storeOptions(tableName?: string): {
    pool: pg.Pool;
    schemaName: string;
    tableName: string;
    createTableIfMissing: true;
    pruneSessionInterval: false;
  };
}

export function useTestSchema(prefix: string, maxConnections = 8): TestSchema {
  const closers: Array<() => Promise<unknown>> = [];
  const schema = {
    pool: undefined as unknown as pg.Pool,
    schemaName: uniqueName(prefix),
    rows: undefined as unknown as SessionRows,
    onClose: (close: () => Promise<unknown>) => void closers.push(close),
    storeOptions: (tableName = 'session') => ({
      pool: schema.pool,
      schemaName: schema.schemaName,
      tableName,
      createTableIfMissing: true as const,
      pruneSessionInterval: false as const,
    }),
  };
  schema.rows = sessionRows(
    async (text, values) => (await schema.pool.query(text, values)).rows,
    `"${schema.schemaName}"."session"`,
  );
  before(async () => {
    schema.pool = new pg.Pool({ connectionString: databaseUrl(), max: maxConnections });
    await schema.pool.query(`CREATE SCHEMA "${schema.schemaName}"`);
  });
  after(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await schema.pool.query(`DROP SCHEMA "${schema.schemaName}" CASCADE`);
    await schema.pool.end();
  });
  return schema;
}

/** A Fastify app with @fastify/cookie and @fastify/session on `store`, over plain http (so `secure: false`). */
export function fastifyWithSession(store: unknown, maxAgeMs = 600_000): FastifyInstance {
  const app = Fastify();
  app.register(fastifyCookie);
  app.register(fastifySession, {
    secret: 'a secret with minimum length of 32 characters',
    store: store as never,
    saveUninitialized: false,
    cookie: { secure: false, maxAge: maxAgeMs },
  });
  return app;
}
