import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import session from 'express-session';
import postgres from 'postgres';
import connectPgSimple from '../src/index.js';
import { channelRecorder, serialized } from './support/channels.js';
import { databaseUrl, eventually, serverAdmin, uniqueName } from './support/database.js';
import { useDriverStores } from './support/driver-stores.js';
import { Browser, listen } from './support/http.js';
import { silentServer } from './support/servers.js';
import { inSeconds, pastTheCacheBound } from './support/sessions.js';
import { TcpProxy } from './support/tcp-proxy.js';

/**
 * The store's events (docs/observability.md): `disconnect` and `connect` as the database goes
 * away and comes back (through a TCP proxy the tests stop and start), what express-session does
 * with them, the session lifecycle events for audit logs, and no session id, data or connection
 * secret in any event or traced context.
 */

const { PGStore } = connectPgSimple;
const STORE_EVENTS = [
  'connect',
  'disconnect',
  'sessionCreated',
  'sessionDestroyed',
  'sessionRevoked',
  'userSessionsRevoked',
  'sessionsPruned',
  'sessionsCleared',
] as const;

type Store = InstanceType<typeof PGStore>;

/** Every event the store emits, in order, with what it carried. */
function recordEvents(store: { on(event: string, listener: (...args: unknown[]) => void): unknown }) {
  const events: Array<{ event: string; args: unknown[] }> = [];
  for (const event of STORE_EVENTS) store.on(event, (...args: unknown[]) => events.push({ event, args }));
  return events;
}

/** The connection string, through the proxy, with a password the server (trust auth here) does not ask for. */
function proxiedUrl(port: number, password: string): string {
  const url = new URL(databaseUrl());
  url.host = `127.0.0.1:${port}`;
  if (url.password === '') url.password = password;
  return url.href;
}

describe('connect and disconnect, through a TCP proxy the test stops and starts', () => {
  const admin = serverAdmin();
  const schemaName = uniqueName('cps_events');
  const target = new URL(databaseUrl());
  const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
  const stores: Store[] = [];
  const logged: unknown[][] = [];
  const open = (options: Record<string, unknown> = {}) => {
    const store = new PGStore({
      conString: proxiedUrl(proxy.port, 'unused-password'),
      schemaName,
      createTableIfMissing: true,
      pruneSessionInterval: false,
      operationTimeout: 5000,
      errorLog: (...args: unknown[]) => logged.push(args),
      ...options,
    });
    stores.push(store);
    return store;
  };

  before(async () => {
    await admin.query(`CREATE SCHEMA "${schemaName}"`);
    await proxy.start();
  });
  after(async () => {
    await proxy.start().catch(() => {});
    await Promise.all(stores.map((s) => s.close()));
    await proxy.stop();
    await admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await admin.close();
  });

  it('says connect when first reached, disconnect when the database goes away, connect when it is back', async () => {
    const store = open();
    const events = recordEvents(store);
    const said = () => events.map((e) => e.event).join(',');
    assert.equal(await store.length(), 0);
    assert.ok(await eventually(async () => said() === 'connect', 5000), `said: ${said()}`);

    await proxy.stop();
    await assert.rejects(store.length());
    assert.ok(await eventually(async () => said() === 'connect,disconnect', 10_000), `said: ${said()}`);
    // While away, the store keeps asking by itself: nothing else needs to call it.
    await proxy.start();
    assert.ok(await eventually(async () => said() === 'connect,disconnect,connect', 20_000), `said: ${said()}`);
    assert.equal(await store.length(), 0);
    for (const { args } of events) assert.deepEqual(args, []);
  });

  it('with connectionEvents: false, says neither through the same outage', async () => {
    const store = open({ connectionEvents: false });
    const events = recordEvents(store);
    await store.length();
    await proxy.stop();
    await assert.rejects(store.length());
    await proxy.start();
    assert.equal(await store.length(), 0);
    assert.deepEqual(events, []);
  });

  it('express-session lets requests through without a session while disconnected, and uses the store again after connect', async () => {
    const Store = connectPgSimple(session);
    const store = new Store({
      conString: proxiedUrl(proxy.port, 'unused-password'),
      schemaName,
      pruneSessionInterval: false,
      operationTimeout: 5000,
      errorLog: (...args: unknown[]) => logged.push(args),
    });
    stores.push(store as unknown as Store);
    const events = recordEvents(store as unknown as Store);
    const app = express();
    app.use(session({ store, secret: 'a secret of thirty-two characters!', resave: false, saveUninitialized: false }));
    app.get('/', (req, res) => {
      if (req.session === undefined) {
        res.status(503).send('sessions unavailable');
        return;
      }
      const s = req.session as unknown as { views?: number };
      s.views = (s.views ?? 0) + 1;
      res.send(String(s.views));
    });
    // The request that finds the database gone fails with the store's error, as without the events.
    app.use((_error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send('store error');
    });
    const server = await listen(createServer(app));
    try {
      const browser = new Browser(server.base);
      assert.equal((await browser.get('/')).body, '1');
      assert.equal((await browser.get('/')).body, '2');
      await proxy.stop();
      await pastTheCacheBound();
      assert.equal((await browser.get('/')).status, 500);
      assert.ok(await eventually(async () => events.some((e) => e.event === 'disconnect'), 10_000));
      const meanwhile = await browser.get('/');
      assert.equal(meanwhile.status, 503, 'express-session skipped the store: no session');
      await proxy.start();
      assert.ok(await eventually(async () => events.at(-1)?.event === 'connect', 20_000));
      assert.equal((await browser.get('/')).body, '3', 'the same session again');
    } finally {
      await server.close();
    }
  });
});

describe('disconnect from a server that never answers', () => {
  it('says disconnect once operations and the check after them run out of time', async () => {
    const silent = await silentServer();
    const store = new PGStore({
      conString: `postgres://someone@127.0.0.1:${silent.port}/db`,
      operationTimeout: 300,
      pruneSessionInterval: false,
      errorLog: () => {},
    });
    const events = recordEvents(store);
    try {
      await assert.rejects(store.length(), { name: 'TimeoutError' });
      assert.ok(await eventually(async () => events.length > 0, 10_000), 'an event');
      assert.deepEqual(
        events.map((e) => e.event),
        ['disconnect'],
      );
    } finally {
      await store.close();
      await silent.close();
    }
  });
});

describe('session lifecycle events', () => {
  const { newStore, q, table } = useDriverStores('pg', 'cps_lifecycle');

  it('created, destroyed, revoked (singly, by stored id, per user), pruned and cleared: handles and users, never ids', async () => {
    const store = newStore();
    const events = recordEvents(store);
    await store.set('s-1', { ...inSeconds(3600), userId: 'ada' } as any);
    await store.set('s-2', { ...inSeconds(3600), userId: 'ada' } as any);
    await store.set('s-3', { ...inSeconds(3600), userId: 'ada' } as any);
    await store.set('s-4', inSeconds(3600) as any);
    const loaded = await store.get('s-4');
    await store.set('s-4', { ...loaded, more: 1 } as any); // loaded: not a new session
    await store.destroy('s-4');
    assert.equal(await store.destroySession(store.sessionHandle('s-2'), { userId: 'ada' }), true);
    assert.equal(await store.destroySession(store.sessionHandle('s-2')), false);
    assert.equal(await store.destroyUserSessions('ada', { except: 's-1' }), 1);
    await store.set('s-5', inSeconds(3600) as any);
    const [listed] = await store.all();
    await store.destroyStoredId((listed as { id: string }).id);
    await store.set('s-6', inSeconds(3600) as any);
    await q(`UPDATE ${table()} SET expire = now() - interval '1 minute' WHERE sid <> $1`, [listed!.id]);
    assert.equal(await store.pruneSessions(), 2);
    await store.clear();
    await eventually(async () => events.some((e) => e.event === 'sessionsCleared'), 5000);

    const handle = (sid: string) => store.sessionHandle(sid);
    assert.deepEqual(events, [
      { event: 'connect', args: [] },
      { event: 'sessionCreated', args: [{ handle: handle('s-1'), userId: 'ada' }] },
      { event: 'sessionCreated', args: [{ handle: handle('s-2'), userId: 'ada' }] },
      { event: 'sessionCreated', args: [{ handle: handle('s-3'), userId: 'ada' }] },
      { event: 'sessionCreated', args: [{ handle: handle('s-4') }] },
      { event: 'sessionDestroyed', args: [{ handle: handle('s-4') }] },
      { event: 'sessionRevoked', args: [{ handle: handle('s-2'), userId: 'ada' }] },
      { event: 'userSessionsRevoked', args: [{ userId: 'ada', count: 1, keptOne: true }] },
      { event: 'sessionCreated', args: [{ handle: handle('s-5') }] },
      { event: 'sessionRevoked', args: [{ handle: listed!.id }] },
      { event: 'sessionCreated', args: [{ handle: handle('s-6') }] },
      { event: 'sessionsPruned', args: [{ count: 2, automatic: false }] },
      { event: 'sessionsCleared', args: [{}] },
    ]);
  });

  it('with plain ids, a revoke by stored id names the handle userSessions lists, not the id', async () => {
    const store = newStore({ hashSessionIds: false, tableName: 'plain_ids' });
    const events = recordEvents(store);
    await store.set('plain-sid', { ...inSeconds(3600), userId: 'bob' } as any);
    const [listed] = await store.userSessions('bob');
    await store.destroyStoredId('plain-sid');
    await eventually(async () => events.some((e) => e.event === 'sessionRevoked'), 5000);
    assert.deepEqual(events.find((e) => e.event === 'sessionRevoked')?.args, [{ handle: listed!.handle }]);
    assert.notEqual(listed!.handle, 'plain-sid');
  });
});

describe('what contexts and events never say', () => {
  const SID = 'sid-that-must-not-leak-7f3a9c';
  const DATA = 'data-that-must-not-leak-52be11';
  const PASSWORD = 'password-that-must-not-leak-e04d';
  const admin = serverAdmin();
  const schemaName = uniqueName('cps_no_secrets');
  const recorder = channelRecorder();
  before(async () => {
    recorder.start();
    await admin.query(`CREATE SCHEMA "${schemaName}"`);
  });
  after(async () => {
    recorder.stop();
    await admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await admin.close();
  });

  /** Every operation, succeeding and then failing (its table dropped), with plain ids: the stored id is the session id. */
  async function exercise(store: Store, tableName: string): Promise<void> {
    const fresh = () => ({ ...inSeconds(3600), userId: 'carol', secret: DATA }) as any;
    const session = fresh();
    await store.set(SID, session);
    const loaded = (await store.get(SID))!;
    await store.set(SID, { ...loaded, secret: `${DATA}-2` } as any);
    await store.touch(SID, loaded);
    await store.all();
    await store.length();
    await store.userSessions('carol');
    await store.destroySession(store.sessionHandle(SID), { userId: 'carol' });
    await store.set(SID, fresh());
    await store.destroyUserSessions('carol', { except: SID });
    await store.destroyStoredId(SID);
    await store.set(SID, fresh());
    await store.destroy(SID);
    await store.pruneSessions();
    await store.clear();
    // A row the table refuses: the server's error quotes the whole row (id and data) in its detail.
    await admin.query(`ALTER TABLE "${schemaName}"."${tableName}" ADD CONSTRAINT refuse_all CHECK (false) NOT VALID`);
    await assert.rejects(store.set(SID, fresh()), { code: '23514' });
    await admin.query(`DROP TABLE "${schemaName}"."${tableName}"`);
    for (const failing of [
      () => store.get(SID),
      () => store.set(SID, fresh()),
      () => store.destroy(SID),
      () => store.userSessions('carol'),
    ]) {
      await assert.rejects(failing());
    }
  }

  for (const driver of ['owned pg', 'postgres.js'] as const) {
    it(`${driver}: no session id, session data, password or connection string anywhere`, async () => {
      const url = new URL(databaseUrl());
      const password = url.password === '' ? PASSWORD : url.password;
      url.password = password;
      const connectionString = url.href;
      const tableName = `t_${driver === 'owned pg' ? 'pg' : 'postgres'}`;
      const sql = driver === 'postgres.js' ? postgres(connectionString, { max: 2, onnotice: () => {} }) : undefined;
      const store = new PGStore({
        ...(sql === undefined ? { conString: connectionString } : { postgres: sql }),
        schemaName,
        tableName,
        hashSessionIds: false,
        createTableIfMissing: true,
        pruneSessionInterval: false,
        errorLog: () => {},
      });
      const events = recordEvents(store);
      const from = recorder.published.length;
      try {
        await exercise(store, tableName);
      } finally {
        await store.close();
        await sql?.end();
      }
      const published = recorder.published.slice(from);
      for (const sqlState of ['23514', '42P01']) {
        assert.ok(
          published.some((p) => p.kind === 'error' && p.context.sqlState === sqlState),
          `${sqlState} was traced`,
        );
      }
      assert.ok(events.some((e) => e.event === 'sessionCreated'));
      const everything = [...published.map((p) => p.text), ...events.map((e) => serialized(e))].join('\n');
      for (const secret of [SID, DATA, password, connectionString, encodeURIComponent(password)]) {
        assert.equal(everything.includes(secret), false, `found ${secret === password ? 'the password' : secret}`);
      }
    });
  }
});

describe('option connectionEvents', () => {
  it('is a boolean, and a misspelling is refused with the right name', () => {
    assert.throws(() => new PGStore({ connectionEvent: false } as never), {
      name: 'TypeError',
      message: /unknown option "connectionEvent".*connectionEvents/,
    });
    assert.throws(() => new PGStore({ connectionEvents: 'no' } as never), {
      name: 'TypeError',
      message: /option "connectionEvents" must be a boolean, got "no"/,
    });
  });
});
