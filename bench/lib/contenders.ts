import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { RedisStore } from 'connect-redis';
import session from 'express-session';
import pg from 'pg';
import postgres from 'postgres';
import { createClient } from 'redis';
import type { PgAdmin } from './pg-admin.js';
import { type BenchSession, newSession, newSid } from './sessions.js';
import type { Settings } from './settings.js';

type ConnectPgSimple = typeof import('../../src/index.js');
// Types from the source, code from the build that `npm run bench` has just made.
export const connectPgSimple: ConnectPgSimple = require('../../dist/index.js');

/**
 * `require('connect-pg-simple')(session)`. The cast works around a type bug: `SessionModule`
 * wants a non-abstract `Store`, and @types/express-session declares it abstract.
 */
export function oursStoreClass() {
  return connectPgSimple(session as unknown as import('../../src/index.js').SessionModule);
}
const connectPgSimple10: (s: typeof session) => new (options: Record<string, unknown>) => session.Store =
  require('connect-pg-simple10');

/** A store as the request cycle uses it: express-session's three calls, as promises. */
export interface CycleStore {
  get(sid: string): Promise<BenchSession | null>;
  set(sid: string, session: BenchSession): Promise<void>;
  touch(sid: string, session: BenchSession): Promise<void>;
}

export interface OpenStore {
  readonly store: CycleStore;
  /** Ids of the sessions created for the run. */
  readonly sids: readonly string[];
  close(): Promise<void>;
}

export type Backend = 'pg' | 'redis' | 'none';

export interface Contender {
  readonly id: string;
  readonly label: string;
  readonly backend: Backend;
  /** Creates the store and `sessions` sessions in it, in a table (or key prefix) of its own. */
  open(env: BenchEnv, sessions: number, name: string): Promise<OpenStore>;
}

export interface BenchEnv {
  readonly settings: Settings;
  readonly admin: PgAdmin;
}

/** How express-session calls a store: with callbacks. Every contender but the floor goes through this. */
export function callbackStore(store: session.Store): CycleStore {
  return {
    get: (sid) =>
      new Promise((resolve, reject) =>
        store.get(sid, (error, value) => (error ? reject(error) : resolve((value as BenchSession | null) ?? null))),
      ),
    set: (sid, s) =>
      new Promise((resolve, reject) =>
        store.set(sid, s as unknown as session.SessionData, (error) => (error ? reject(error) : resolve())),
      ),
    touch: (sid, s) =>
      new Promise((resolve, reject) =>
        // @types/express-session types touch's callback without an error; stores do pass one.
        store.touch!(
          sid,
          s as unknown as session.SessionData,
          ((error?: unknown) => (error ? reject(error) : resolve())) as () => void,
        ),
      ),
  };
}

/**
 * A pool of `poolSize` connections. Idle connections close after a second, so that contenders
 * waiting for their turn do not hold connections the server may need for others.
 */
export function newPgPool(settings: Settings, max: number = settings.poolSize): pg.Pool {
  const pool = new pg.Pool({ connectionString: settings.databaseUrl, max, idleTimeoutMillis: 1000 });
  pool.on('error', (error) => console.error('bench: idle pg connection failed:', error.message));
  return pool;
}

/** Creates sessions through the store itself (for stores outside PostgreSQL). */
async function seedThroughStore(store: CycleStore, count: number): Promise<string[]> {
  const sids = Array.from({ length: count }, () => newSid());
  const now = Date.now();
  for (let i = 0; i < count; i += 100) {
    await Promise.all(sids.slice(i, i + 100).map((sid, j) => store.set(sid, newSession(i + j, now))));
  }
  return sids;
}

/** Connects to Redis, or says why not. */
export async function connectRedis(url: string) {
  const client = createClient({ url, socket: { connectTimeout: 1000, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  return client;
}

export type RedisClient = Awaited<ReturnType<typeof connectRedis>>;

/** Deletes the keys under a prefix (bounded by the number of keys there). */
export async function deleteRedisPrefix(client: RedisClient, prefix: string): Promise<void> {
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    if (keys.length > 0) await client.del(keys);
  }
}

/**
 * Another build of this package, for a comparison in the same run: `BENCH_BASELINE=DIR`, a
 * checkout of the code before a change with its `dist/` built.
 */
function baselineModules(dir: string) {
  return {
    ddl: require(resolve(dir, 'dist/schema/ddl.js')) as typeof import('../../src/schema/ddl.js'),
    sql: require(resolve(dir, 'dist/sql.js')) as typeof import('../../src/sql.js'),
  };
}

/** What ours stores for the bench's seeded sessions, with these options: hashed ids, encrypted text. */
export function storedForm(options: Record<string, unknown>) {
  const { storedIdFunction } = require('../../dist/session-id.js') as typeof import('../../src/session-id.js');
  const { SessionCipher } = require('../../dist/encryption.js') as typeof import('../../src/encryption.js');
  const id = options.hashSessionIds === false ? (sid: string) => sid : storedIdFunction('sha256');
  const keys = options.encryptionKeys as Buffer[] | undefined;
  const cipher = keys === undefined ? undefined : new SessionCipher(keys);
  return {
    id,
    text: cipher === undefined ? undefined : (json: string, storedId: string) => cipher.encrypt(json, storedId),
  };
}

/**
 * What a baseline build stores for the seeded sessions: hashed ids (SHA-256) from the build that
 * made them its default (it has dist/session-id.js), plain ids before.
 */
function baselineStoredForm(): { id?: (sid: string) => string } {
  const file = baselineDir === undefined ? undefined : resolve(baselineDir, 'dist/session-id.js');
  if (file === undefined || !existsSync(file)) return {};
  const { storedIdFunction } = require(file) as typeof import('../../src/session-id.js');
  return { id: storedIdFunction('sha256') };
}

function baselineStoreClass(dir: string) {
  const load = require(resolve(dir, 'dist/index.js')) as ConnectPgSimple;
  return load(session as unknown as import('../../src/index.js').SessionModule);
}

function oursContender(
  id: string,
  label: string,
  options: Record<string, unknown>,
  driver: 'pg' | 'postgres' | 'owned',
  storeClass: () => ReturnType<typeof oursStoreClass> = oursStoreClass,
): Contender {
  return {
    id,
    label,
    backend: 'pg',
    async open({ settings, admin }, count, name) {
      const isBaseline = storeClass !== oursStoreClass;
      // A baseline's table is its own schema version, its ids and text as it stores them (plain).
      await admin.createOursTable(
        name,
        isBaseline && baselineDir ? baselineModules(baselineDir) : undefined,
        options.hashSessionIds === false,
      );
      // The window a store with these options leaves (touchAfter 60 by default, 0 when false).
      const window = options.touchAfter === false ? 0 : LAZY_TOUCH_WINDOW_SECONDS;
      const padded = isBaseline && process.env.BENCH_BASELINE_PADDED === '1';
      const { sids } = await admin.seed(
        name,
        count,
        window,
        padded,
        isBaseline ? baselineStoredForm() : storedForm(options),
      );
      const Store = storeClass();
      if (driver === 'owned') {
        const store = new Store({
          conString: settings.databaseUrl,
          schemaName: settings.schema,
          tableName: name,
          ...options,
        });
        return { store: callbackStore(store), sids, close: () => store.close() };
      }
      if (driver === 'pg') {
        const pool = newPgPool(settings);
        const store = new Store({ pool, schemaName: settings.schema, tableName: name, ...options });
        return {
          store: callbackStore(store),
          sids,
          close: async () => {
            await store.close();
            await pool.end();
          },
        };
      }
      const sql = postgres(settings.databaseUrl, { max: settings.poolSize, idle_timeout: 1, onnotice: () => {} });
      const store = new Store({ postgres: sql, schemaName: settings.schema, tableName: name, ...options });
      return {
        store: callbackStore(store),
        sids,
        close: async () => {
          await store.close();
          await sql.end();
        },
      };
    },
  };
}

/** The same work as a store, written by hand on the pool: prepared statements, nothing else. */
export function floorStore(pool: pg.Pool, qualifiedTable: string): CycleStore {
  const t = qualifiedTable;
  const get = { name: 'floor_get', text: `SELECT sess FROM ${t} WHERE sid = $1 AND expire > now()` };
  const upsert = {
    name: 'floor_upsert',
    text: `INSERT INTO ${t} (sid, sess, expire) VALUES ($1, $2, now() + $3 * interval '1 second')
ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire`,
  };
  const touch = {
    name: 'floor_touch',
    text: `UPDATE ${t} SET expire = now() + $2 * interval '1 second' WHERE sid = $1`,
  };
  const seconds = (s: BenchSession) => (new Date(s.cookie.expires).getTime() - Date.now()) / 1000;
  return {
    async get(sid) {
      const { rows } = await pool.query({ ...get, values: [sid] });
      return (rows[0]?.sess as BenchSession | undefined) ?? null;
    },
    async set(sid, s) {
      await pool.query({ ...upsert, values: [sid, JSON.stringify(s), seconds(s)] });
    },
    async touch(sid, s) {
      await pool.query({ ...touch, values: [sid, seconds(s)] });
    },
  };
}

export const OURS_ID = 'ours';

/** Ours' default touchAfter, for one-day sessions. */
export const LAZY_TOUCH_WINDOW_SECONDS = 60;

const baselineDir = process.env.BENCH_BASELINE;

export const CONTENDERS: readonly Contender[] = [
  oursContender(OURS_ID, 'ours (pg.Pool, defaults)', {}, 'pg'),
  oursContender('ours-uncached', 'ours, readCache:false (pg.Pool)', { readCache: false }, 'pg'),
  ...(baselineDir
    ? [oursContender('ours-baseline', 'ours before (BENCH_BASELINE)', {}, 'pg', () => baselineStoreClass(baselineDir))]
    : []),
  oursContender('ours-postgresjs', 'ours (postgres.js)', {}, 'postgres'),
  oursContender('ours-eager', 'ours, touchAfter:false', { touchAfter: false }, 'pg'),
  oursContender('ours-async-commit', 'ours, synchronousCommit:false', { synchronousCommit: false }, 'pg'),
  oursContender('ours-pipelined', 'ours (conString: pipelined by default)', {}, 'owned'),
  oursContender('ours-cached', 'ours, readCache:1000 (TTL cache, opt-in)', { readCache: 1000 }, 'pg'),
  oursContender('ours-encrypted', 'ours, encryptionKeys (opt-in)', { encryptionKeys: [Buffer.alloc(32, 7)] }, 'pg'),
  oursContender('ours-plain-ids', 'ours, hashSessionIds:false', { hashSessionIds: false }, 'pg'),
  {
    id: 'v10',
    label: 'connect-pg-simple 10.0.0',
    backend: 'pg',
    async open({ settings, admin }, count, name) {
      await admin.createV10Table(name);
      const { sids } = await admin.seed(name, count);
      const pool = newPgPool(settings);
      const store = new (connectPgSimple10(session))({ pool, schemaName: settings.schema, tableName: name });
      return {
        store: callbackStore(store),
        sids,
        close: async () => {
          await (store as unknown as { close(): Promise<void> }).close();
          await pool.end();
        },
      };
    },
  },
  {
    id: 'redis',
    label: 'connect-redis 9 (redis 6)',
    backend: 'redis',
    async open({ settings }, count, name) {
      const client = await connectRedis(settings.redisUrl);
      const prefix = `${settings.schema}:${name}:`;
      await deleteRedisPrefix(client, prefix);
      const store = callbackStore(new RedisStore({ client, prefix }));
      const sids = await seedThroughStore(store, count);
      return {
        store,
        sids,
        close: async () => {
          await deleteRedisPrefix(client, prefix);
          await client.quit();
        },
      };
    },
  },
  {
    id: 'memory',
    label: 'express-session MemoryStore',
    backend: 'none',
    async open(_env, count) {
      const store = callbackStore(new session.MemoryStore());
      const sids = await seedThroughStore(store, count);
      return { store, sids, close: async () => {} };
    },
  },
  {
    id: 'floor',
    label: 'raw pg floor (hand-written SQL)',
    backend: 'pg',
    async open({ settings, admin }, count, name) {
      await admin.createOursTable(name);
      const { sids } = await admin.seed(name, count);
      const pool = newPgPool(settings);
      return { store: floorStore(pool, admin.qualified(name)), sids, close: () => pool.end() };
    },
  },
];
