import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { before, describe, it } from 'node:test';
import Koa from 'koa';
import session from 'koa-session';
import pg from 'pg';
import { KoaPGStore } from '../src/adapters/koa.js';
import type { PGStoreOptions } from '../src/options.js';
import { useTestSchema } from './support/apps.js';
import { databaseUrl, uniqueName } from './support/database.js';
import { Gates } from './support/gates.js';
import { Browser, listen } from './support/http.js';
import { newPGlite } from './support/pglite.js';
import { changeConcurrently, readsSkipTheWrite, signInAndCount } from './support/scenarios.js';
import { sessionRows } from './support/session-rows.js';
import { storedId } from './support/sessions.js';

/** Koa 3 + koa-session over HTTP, the session in PostgreSQL through KoaPGStore. */
function koaApp(store: KoaPGStore, gates: Gates, sessionOptions: Record<string, unknown> = {}) {
  const app = new Koa();
  app.keys = ['a test key'];
  app.use(session({ store, maxAge: 600_000, ...sessionOptions } as any, app));
  app.use(async (ctx) => {
    const [, route, name, key] = ctx.path.split('/');
    const s = ctx.session as any;
    if (route === 'login') s.user = 'ada';
    else if (route === 'count') s.count = (s.count ?? 0) + 1;
    // The app's own data under the key `cookie` (a consent record): only its `expires` changes.
    else if (route === 'consent') s.cookie = { consent: 'analytics', expires: name };
    else if (route === 'slow') {
      await gates.wait(name!);
      s[key ?? 'lastPage'] = name;
    } else if (route === 'regenerate') {
      await ctx.session!.regenerate();
      s.user = 'ada again';
    } else if (route === 'logout') ctx.session = null;
    ctx.body =
      route === 'consent' || route === 'consented'
        ? String(s?.cookie?.expires)
        : String(s?.[route === 'count' ? 'count' : 'user'] ?? 'anonymous');
  });
  return app;
}

const sidOf = (browser: Browser) => /(?:^|; )koa\.sess=([^;]+)/.exec(browser.cookie ?? '')?.[1];

describe('Koa 3 with koa-session', () => {
  const db = useTestSchema('cps_koa', 6);
  const gates = new Gates();
  const stores: KoaPGStore[] = [];
  const servers: Array<Awaited<ReturnType<typeof listen>>> = [];
  const storeOptions = (): PGStoreOptions => ({
    pool: db.pool,
    schemaName: db.schemaName,
    createTableIfMissing: true,
    pruneSessionInterval: false,
  });
  async function serve(sessionOptions?: Record<string, unknown>): Promise<string> {
    const store = new KoaPGStore(storeOptions());
    stores.push(store);
    const server = await listen(createServer(koaApp(store, gates, sessionOptions).callback()));
    servers.push(server);
    return server.base;
  }
  let base: string;

  before(async () => {
    base = await serve();
  });
  db.onClose(async () => {
    for (const server of servers) await server.close();
    for (const store of stores) await store.close();
  });

  it('keeps a session across requests', async () => {
    const browser = new Browser(base);
    await signInAndCount(browser);
    const row = await db.rows.of(sidOf(browser)!);
    assert.deepEqual({ user: row?.sess.user, count: row?.sess.count }, { user: 'ada', count: 2 });
    assert.equal(row?.sess._expire, undefined, 'the expiry lives in the row, not in the data');
  });

  it("lives koa-session's maxAge, not the 10 s koa-session adds for the store", async () => {
    const browser = new Browser(base);
    await browser.get('/login');
    const left = (await db.rows.of(sidOf(browser)!))!.left;
    // maxAge is 600 s; a write stores exactly the lifetime.
    assert.ok(left > 590 && left <= 600, `maxAge, got ${left}`);
  });

  it('regenerate removes the old row; logout removes the row', async () => {
    const browser = new Browser(base);
    await browser.get('/login');
    const oldSid = sidOf(browser)!;
    await browser.get('/regenerate');
    const newSid = sidOf(browser)!;
    assert.notEqual(newSid, oldSid);
    assert.equal(await db.rows.of(oldSid), undefined);
    assert.equal((await db.rows.of(newSid))?.sess.user, 'ada again');
    assert.equal((await browser.get('/me')).body, 'ada again');
    await browser.get('/logout');
    assert.equal(await db.rows.of(newSid), undefined);
    assert.equal((await browser.get('/me')).body, 'anonymous');
  });

  it('gives an expired session a new one', async () => {
    const browser = new Browser(base);
    await browser.get('/login');
    await db.rows.expireAll();
    assert.equal((await browser.get('/me')).body, 'anonymous');
  });

  it('follows the row, not a stale `_expire` in the data, for whether a session is alive', async () => {
    const browser = new Browser(base);
    await browser.get('/login');
    const sid = sidOf(browser)!;
    // What a store that kept koa's `_expire` in the row would hand back after skipped touches.
    const stale = await db.pool.query(
      `UPDATE "${db.schemaName}"."session" SET sess = jsonb_set(sess::jsonb, '{_expire}', to_jsonb($2::float8))::json WHERE sid = $1`,
      [storedId(sid), Date.now() - 1000],
    );
    assert.equal(stale.rowCount, 1, 'the stored _expire is in the past');
    assert.equal((await browser.get('/me')).body, 'ada');
  });

  it('a logout is final against a request in flight', async () => {
    const browser = new Browser(base);
    await browser.get('/login');
    const sid = sidOf(browser)!;
    const slow = browser.get('/slow/k1');
    await gates.reached('k1');
    await new Browser(base).get('/me'); // another visitor meanwhile
    const other = new Browser(base);
    other.cookie = browser.cookie;
    await other.get('/logout');
    gates.open('k1');
    await slow;
    assert.equal(await db.rows.of(sid), undefined, 'the session stays deleted');
    browser.cookie = other.cookie;
    assert.equal((await browser.get('/me')).body, 'anonymous');
  });

  it("the app's own key named cookie is data: a change of its expires alone is written", async () => {
    const browser = new Browser(base);
    await browser.get('/consent/2030-01-01');
    assert.equal((await browser.get('/consent/2031-06-01')).body, '2031-06-01');
    assert.equal((await browser.get('/consented')).body, '2031-06-01', 'the next request reads the change');
    assert.equal((await db.rows.of(sidOf(browser)!))?.sess.cookie.expires, '2031-06-01');
  });

  it('concurrent requests keep each other’s changes', async () => {
    const browser = new Browser(base);
    await changeConcurrently(browser, gates);
    const row = await db.rows.of(sidOf(browser)!);
    assert.deepEqual(
      { user: row?.sess.user, uploadId: row?.sess.uploadId, cart: row?.sess.cart },
      { user: 'ada', uploadId: 'upload', cart: 'cart' },
    );
  });

  it('with rolling, a request that changes nothing skips the write (lazy touch)', async () => {
    const rollingBase = await serve({ rolling: true });
    const browser = new Browser(rollingBase);
    await readsSkipTheWrite(browser, db.rows, sidOf);
  });

  it("handles maxAge 'session': a browser-session cookie, the row lives the store's lifetime", async () => {
    const sessionBase = await serve({ maxAge: 'session' });
    const browser = new Browser(sessionBase);
    await browser.get('/login');
    const row = await db.rows.of(sidOf(browser)!);
    assert.equal(row?.sess._session, true);
    assert.ok(row!.left > 86_000 && row!.left <= 86_400 + 60, `one day (and the touch window) left, got ${row?.left}`);
    assert.equal((await browser.get('/me')).body, 'ada');
  });
});

describe('Koa with koa-session: the store’s ttl option', () => {
  it('wins over koa-session’s maxAge, as it wins over a cookie’s expiry', async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    const schemaName = uniqueName('cps_koa_ttl');
    await pool.query(`CREATE SCHEMA "${schemaName}"`);
    const store = new KoaPGStore({
      pool,
      schemaName,
      createTableIfMissing: true,
      pruneSessionInterval: false,
      ttl: 120,
    });
    const server = await listen(createServer(koaApp(store, new Gates()).callback()));
    try {
      const browser = new Browser(server.base);
      await browser.get('/login');
      const rows = sessionRows(
        async (text, values) => (await pool.query(text, values)).rows,
        `"${schemaName}"."session"`,
      );
      const left = (await rows.of(sidOf(browser)!))!.left;
      assert.ok(left > 110 && left <= 132, `ttl (plus the touch window), not maxAge, got ${left}`);
    } finally {
      await server.close();
      await store.close();
      await pool.query(`DROP SCHEMA "${schemaName}" CASCADE`);
      await pool.end();
    }
  });
});

describe('Koa with koa-session on PGlite', () => {
  it('keeps a session across requests, and a logout removes it', async () => {
    const pglite = await newPGlite();
    const store = new KoaPGStore({ pglite, createTableIfMissing: true, pruneSessionInterval: false });
    const server = await listen(createServer(koaApp(store, new Gates()).callback()));
    try {
      const browser = new Browser(server.base);
      await browser.get('/login');
      assert.equal((await browser.get('/count')).body, '1');
      assert.equal((await browser.get('/me')).body, 'ada');
      await browser.get('/logout');
      assert.equal((await browser.get('/me')).body, 'anonymous');
      assert.equal((await pglite.query('SELECT 1 FROM session')).rows.length, 0);
    } finally {
      await server.close();
      await store.close();
      await pglite.close();
    }
  });
});
