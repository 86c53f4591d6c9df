import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { before, describe, it } from 'node:test';
import { createCookie, createSession } from 'react-router';
import { createPostgresSessionStorage, type PostgresSessionStorage } from '../src/adapters/react-router.js';
import { ABSOLUTE_TIMEOUT_RUNS, assertEndsAtAbsoluteTime } from './support/absolute-end.js';
import { useTestSchema } from './support/apps.js';
import { useDriverStores } from './support/driver-stores.js';
import { Gates } from './support/gates.js';
import { Browser, listen } from './support/http.js';
import { newPGlite } from './support/pglite.js';
import { changeConcurrently, readsSkipTheWrite, signInAndCount } from './support/scenarios.js';
import { storedId } from './support/sessions.js';

/**
 * React Router's session API over real HTTP: what a loader or action does with `getSession`,
 * `commitSession` and `destroySession`, in a plain node:http server (React Router's own server
 * adapters add nothing to sessions).
 */
function server(storage: PostgresSessionStorage, gates: Gates) {
  return createServer(async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const [, route, name, key] = (req.url ?? '/').split('/');
      const session = await storage.getSession(req.headers.cookie);
      const shown = route === 'count' ? 'count' : route === 'notice' ? 'notice' : 'user';
      if (route === 'consent' || route === 'consented') {
        // The app's own data under the key `cookie` (a consent record): only its `expires` changes.
        if (route === 'consent') session.set('cookie', { consent: 'analytics', expires: name });
        res.setHeader('set-cookie', await storage.commitSession(session));
        res.end(String(session.get('cookie')?.expires));
        return;
      }
      let setCookie: string;
      let body = 'anonymous';
      if (route === 'logout') setCookie = await storage.destroySession(session);
      else if (route === 'logout-then-commit') {
        // A logout action, then a middleware that commits the request's Session on every response.
        await storage.destroySession(session);
        setCookie = await storage.commitSession(session);
      } else if (route === 'commit-twice') {
        session.set('user', name!);
        await storage.commitSession(session);
        setCookie = await storage.commitSession(session);
      } else {
        if (route === 'login') session.set('user', 'ada');
        else if (route === 'count') session.set('count', (session.get('count') ?? 0) + 1);
        else if (route === 'flash') session.flash('notice', 'saved');
        else if (route === 'slow') {
          await gates.wait(name!);
          session.set(key ?? 'lastPage', name);
        }
        body = String(session.get(shown) ?? 'anonymous');
        // Committed on every request, as apps do to roll the cookie.
        setCookie = await storage.commitSession(session);
      }
      res.setHeader('set-cookie', setCookie);
      res.end(body);
    } catch (error) {
      res.statusCode = 500;
      res.end(String(error));
    }
  });
}

const cookie = createCookie('__session', { secrets: ['a test secret'], maxAge: 600, sameSite: 'lax' });

async function sidOf(browser: Browser): Promise<string | undefined> {
  return (await cookie.parse(browser.cookie ?? null)) ?? undefined;
}

describe("React Router's session API with createPostgresSessionStorage", () => {
  const db = useTestSchema('cps_rr', 6);
  let storage: PostgresSessionStorage;
  let http: Awaited<ReturnType<typeof listen>>;
  const gates = new Gates();

  before(async () => {
    storage = createPostgresSessionStorage({
      cookie,
      pool: db.pool,
      schemaName: db.schemaName,
      createTableIfMissing: true,
      pruneSessionInterval: false,
    });
    http = await listen(server(storage, gates));
  });
  db.onClose(async () => {
    await http.close();
    await storage.close();
  });

  it('keeps a session across requests, its id made by the store and signed in the cookie', async () => {
    const browser = new Browser(http.base);
    await signInAndCount(browser);
    const sid = (await sidOf(browser))!;
    assert.match(sid, /^[\w-]{32}$/);
    assert.deepEqual((await db.rows.of(sid))?.sess, { user: 'ada', count: 2 });
    const left = (await db.rows.of(sid))!.left;
    assert.ok(left > 590 && left <= 660, `the cookie's maxAge (plus the touch window), got ${left}`);
  });

  it("the app's own key named cookie is data: a change of its expires alone is written", async () => {
    const browser = new Browser(http.base);
    await browser.get('/consent/2030-01-01');
    assert.equal((await browser.get('/consent/2031-06-01')).body, '2031-06-01');
    assert.equal((await browser.get('/consented')).body, '2031-06-01', 'the next request reads the change');
  });

  it('a flash value is read once', async () => {
    const browser = new Browser(http.base);
    await browser.get('/flash');
    assert.equal((await browser.get('/notice')).body, 'saved');
    assert.equal((await browser.get('/notice')).body, 'anonymous');
  });

  it('destroySession removes the row', async () => {
    const browser = new Browser(http.base);
    await browser.get('/login');
    const sid = (await sidOf(browser))!;
    await browser.get('/logout');
    assert.equal(await db.rows.of(sid), undefined);
    assert.equal((await browser.get('/me')).body, 'anonymous');
  });

  it('a destroyed Session stays destroyed when it is committed afterwards (a middleware that commits every response)', async () => {
    const browser = new Browser(http.base);
    await browser.get('/login');
    const sid = (await sidOf(browser))!;
    await browser.get('/logout-then-commit');
    assert.equal(await db.rows.of(sid), undefined, 'the row stays deleted');
    assert.equal(await sidOf(browser), undefined, 'the cookie is cleared');
    const tab = new Browser(http.base);
    tab.cookie = (await cookie.serialize(sid)).split(';')[0];
    assert.equal((await tab.get('/me')).body, 'anonymous', 'the old id finds nothing');
  });

  it('a new session committed twice in one request is one row', async () => {
    const browser = new Browser(http.base);
    await browser.get('/commit-twice/twice');
    const [{ n }] = (
      await db.pool.query(`SELECT count(*)::int AS n FROM "${db.schemaName}"."session" WHERE sess->>'user' = 'twice'`)
    ).rows;
    assert.equal(n, 1);
    assert.equal((await browser.get('/me')).body, 'twice', 'the cookie names that row');
  });

  it('gives an expired session a new one, with a new id', async () => {
    const browser = new Browser(http.base);
    await browser.get('/login');
    const sid = (await sidOf(browser))!;
    await db.rows.expireAll();
    assert.equal((await browser.get('/me')).body, 'anonymous');
    const newSid = await sidOf(browser);
    assert.ok(newSid !== undefined && newSid !== sid, 'the expired id is not reused');
  });

  it('a logout is final against a request in flight, and its id is never used again', async () => {
    const browser = new Browser(http.base);
    await browser.get('/login');
    const sid = (await sidOf(browser))!;
    const tab = new Browser(http.base);
    tab.cookie = browser.cookie;
    const slow = tab.get('/slow/r1');
    await gates.reached('r1');
    await browser.get('/logout');
    gates.open('r1');
    await slow;
    assert.equal(await db.rows.of(sid), undefined, 'the session stays deleted');
    // The slow response set the old id again: it leads to a new, empty session.
    assert.equal((await tab.get('/me')).body, 'anonymous');
    assert.notEqual(await sidOf(tab), sid);
    assert.equal(await db.rows.of(sid), undefined);
  });

  it('concurrent requests keep each other’s changes', async () => {
    const browser = new Browser(http.base);
    await changeConcurrently(browser, gates, 'cart');
    assert.deepEqual((await db.rows.of((await sidOf(browser))!))?.sess, {
      user: 'ada',
      cart: 'cart',
      uploadId: 'upload',
    });
  });

  it('a commit that changes nothing skips the write (lazy touch)', async () => {
    const browser = new Browser(http.base);
    await readsSkipTheWrite(browser, db.rows, sidOf);
  });

  it('checks its own option and the store options at creation', () => {
    assert.throws(() => createPostgresSessionStorage({ pool: db.pool, cookie: 'sid' as any }), /option "cookie"/);
    assert.throws(
      () => createPostgresSessionStorage({ pool: db.pool, tableNmae: 'x' } as any),
      /unknown option "tableNmae"/,
    );
  });
});

describe('React Router sessions on PGlite', () => {
  it('keeps a session across requests, and destroySession removes it', async () => {
    const pglite = await newPGlite();
    const storage = createPostgresSessionStorage({
      cookie,
      pglite,
      createTableIfMissing: true,
      pruneSessionInterval: false,
    });
    const http = await listen(server(storage, new Gates()));
    try {
      const browser = new Browser(http.base);
      await browser.get('/login');
      assert.equal((await browser.get('/count')).body, '1');
      assert.equal((await browser.get('/me')).body, 'ada');
      const sid = await sidOf(browser);
      assert.equal((await pglite.query('SELECT 1 FROM session WHERE sid = $1', [storedId(sid!)])).rows.length, 1);
      await browser.get('/logout');
      assert.equal((await pglite.query('SELECT 1 FROM session WHERE sid = $1', [storedId(sid!)])).rows.length, 0);
      assert.equal((await browser.get('/me')).body, 'anonymous');
    } finally {
      await http.close();
      await storage.close();
      await pglite.close();
    }
  });
});

for (const { driverName, label, options } of ABSOLUTE_TIMEOUT_RUNS) {
  describe(`React Router's absolute timeout over ${label}`, () => {
    const suite = useDriverStores(driverName, 'cps_rr_abs');
    it("a commit of a Session made without getSession keeps the live session's creation time: it ends at its absolute time", async () => {
      const storage = createPostgresSessionStorage({
        ...suite.harness.storeOptions,
        cookie,
        schemaName: suite.schemaName,
        createTableIfMissing: true,
        pruneSessionInterval: false,
        absoluteTimeout: 2,
        ...options,
      } as never);
      try {
        let id: string | undefined;
        const cookieHeader = async () => (await cookie.serialize(id)).split(';')[0];
        await assertEndsAtAbsoluteTime(
          2,
          async (n) => {
            // The first commit makes the session; the others write it from a Session of its id, with no receipt.
            const header = await storage.commitSession(createSession({ user: 'ada', n }, id ?? ''));
            id ??= await cookie.parse(header);
          },
          async () => (await storage.getSession(await cookieHeader())).has('user'),
        );
      } finally {
        await storage.close();
      }
    });
  });
}
