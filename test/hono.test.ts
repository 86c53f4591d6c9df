import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { type Session, sessionMiddleware } from 'hono-sessions';
import { HonoPGStore } from '../src/adapters/hono.js';
import { useTestSchema } from './support/apps.js';
import { Gates } from './support/gates.js';
import { Browser, listen } from './support/http.js';
import { newPGlite } from './support/pglite.js';
import { changeConcurrently, readsSkipTheWrite, signInAndCount } from './support/scenarios.js';
import { storedId } from './support/sessions.js';

type Env = { Variables: { session: Session; session_key_rotation: boolean } };

/** Hono on @hono/node-server over HTTP, hono-sessions keeping its sessions in PostgreSQL through HonoPGStore. */
function honoServer(store: HonoPGStore, gates: Gates): Server {
  const app = new Hono<Env>();
  app.use('*', sessionMiddleware({ store, expireAfterSeconds: 600, cookieOptions: { path: '/', httpOnly: true } }));
  app.get('/login', (c) => {
    c.get('session').set('user', 'ada');
    return c.text('ok');
  });
  app.get('/me', (c) => c.text(String(c.get('session').get('user') ?? 'anonymous')));
  app.get('/count', (c) => {
    const session = c.get('session');
    const count = ((session.get('count') as number | null) ?? 0) + 1;
    session.set('count', count);
    return c.text(String(count));
  });
  app.get('/slow/:name/:key', async (c) => {
    await gates.wait(c.req.param('name'));
    c.get('session').set(c.req.param('key'), c.req.param('name'));
    return c.text('done');
  });
  app.get('/rotate', (c) => {
    c.set('session_key_rotation', true);
    c.get('session').set('user', 'ada again');
    return c.text('ok');
  });
  app.get('/logout', (c) => {
    c.get('session').deleteSession();
    return c.text('bye');
  });
  return createAdaptorServer({ fetch: app.fetch }) as Server;
}

const sidOf = (browser: Browser) => /(?:^|; )session=([^;]+)/.exec(browser.cookie ?? '')?.[1];

describe('Hono with hono-sessions', () => {
  const db = useTestSchema('cps_hono', 6);
  let store: HonoPGStore;
  let http: Awaited<ReturnType<typeof listen>>;
  const gates = new Gates();

  before(async () => {
    store = new HonoPGStore({
      pool: db.pool,
      schemaName: db.schemaName,
      createTableIfMissing: true,
      pruneSessionInterval: false,
    });
    http = await listen(honoServer(store, gates));
  });
  db.onClose(async () => {
    await http.close();
    await store.close();
  });

  it('keeps a session across requests, each key a key of the row', async () => {
    const browser = new Browser(http.base);
    await signInAndCount(browser);
    const row = (await db.rows.of(sidOf(browser)!))!;
    assert.deepEqual(row.sess.user, { value: 'ada', flash: false });
    assert.deepEqual(row.sess.count, { value: 2, flash: false });
    assert.ok(Date.parse(row.sess.cookie.expires) > Date.now(), 'hono-sessions’ _expire is kept');
  });

  it('a new session lives expireAfterSeconds in the row, not the store’s default day', async () => {
    const browser = new Browser(http.base);
    await browser.get('/login');
    const left = (await db.rows.of(sidOf(browser)!))!.left;
    assert.ok(left > 590 && left <= 660, `expireAfterSeconds (plus the touch window) left, got ${left}`);
  });

  it('key rotation removes the old row; deleteSession removes the row', async () => {
    const browser = new Browser(http.base);
    await browser.get('/login');
    const oldSid = sidOf(browser)!;
    await browser.get('/rotate');
    const newSid = sidOf(browser)!;
    assert.notEqual(newSid, oldSid);
    assert.equal(await db.rows.of(oldSid), undefined);
    assert.equal((await browser.get('/me')).body, 'ada again');
    await browser.get('/logout');
    assert.equal(await db.rows.of(newSid), undefined);
    assert.equal((await browser.get('/me')).body, 'anonymous');
  });

  it('gives an expired session a new one', async () => {
    const browser = new Browser(http.base);
    await browser.get('/login');
    const sid = sidOf(browser);
    await db.rows.expireAll();
    assert.equal((await browser.get('/me')).body, 'anonymous');
    assert.notEqual(sidOf(browser), sid);
  });

  it('follows the row, not an _expire a skipped touch left behind, for whether a session is alive', async () => {
    const browser = new Browser(http.base);
    await browser.get('/login');
    const stale = await db.pool.query(
      `UPDATE "${db.schemaName}"."session" SET sess = jsonb_set(sess::jsonb, '{cookie,expires}', to_jsonb($2::text))::json WHERE sid = $1`,
      [storedId(sidOf(browser)!), new Date(Date.now() - 1000).toISOString()],
    );
    assert.equal(stale.rowCount, 1, 'the stored expiry is in the past');
    assert.equal((await browser.get('/me')).body, 'ada');
  });

  it('a logout is final against a request in flight', async () => {
    const browser = new Browser(http.base);
    await browser.get('/login');
    const sid = sidOf(browser)!;
    const tab = new Browser(http.base);
    tab.cookie = browser.cookie;
    const slow = tab.get('/slow/h1/page');
    await gates.reached('h1');
    await browser.get('/logout');
    gates.open('h1');
    await slow;
    assert.equal(await db.rows.of(sid), undefined, 'the session stays deleted');
    assert.equal((await tab.get('/me')).body, 'anonymous');
  });

  it('concurrent requests keep each other’s changes', async () => {
    const browser = new Browser(http.base);
    await changeConcurrently(browser, gates);
    const row = (await db.rows.of(sidOf(browser)!))!;
    assert.deepEqual([row.sess.user?.value, row.sess.uploadId?.value, row.sess.cart?.value], ['ada', 'upload', 'cart']);
  });

  it('a request that only extends the expiry skips the write (lazy touch)', async () => {
    const browser = new Browser(http.base);
    await readsSkipTheWrite(browser, db.rows, sidOf);
  });
});

describe('Hono with hono-sessions on PGlite', () => {
  it('keeps a session across requests, and deleteSession removes it', async () => {
    const pglite = await newPGlite();
    const store = new HonoPGStore({ pglite, createTableIfMissing: true, pruneSessionInterval: false });
    const http = await listen(honoServer(store, new Gates()));
    try {
      const browser = new Browser(http.base);
      await browser.get('/login');
      assert.equal((await browser.get('/count')).body, '1');
      assert.equal((await browser.get('/me')).body, 'ada');
      const sid = sidOf(browser);
      const rowsOf = async () => (await pglite.query('SELECT 1 FROM session WHERE sid = $1', [storedId(sid!)])).rows;
      assert.equal((await rowsOf()).length, 1, 'the session is in the table');
      await browser.get('/logout');
      assert.equal((await rowsOf()).length, 0);
      assert.equal((await browser.get('/me')).body, 'anonymous');
    } finally {
      await http.close();
      await store.close();
      await pglite.close();
    }
  });
});
