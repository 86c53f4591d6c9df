import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express5 from 'express';
import session from 'express-session';
import express4 from 'express4';
import pg from 'pg';
import connectPgSimple from '../src/index.js';
import { databaseUrl, uniqueName } from './support/database.js';
import { Browser, listen } from './support/http.js';

const PgStore = connectPgSimple(session);

for (const [label, express] of [
  ['Express 5', express5],
  ['Express 4', express4],
] as const) {
  describe(`${label} with express-session`, () => {
    let pool: pg.Pool;
    let store: InstanceType<typeof PgStore>;
    let schemaName: string;
    let server: Awaited<ReturnType<typeof listen>>;

    const rows = async () =>
      (await pool.query(`SELECT sid, sess FROM "${schemaName}"."session" ORDER BY sid`)).rows as Array<{
        sid: string;
        sess: any;
      }>;

    before(async () => {
      pool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
      schemaName = uniqueName('cps_express');
      await pool.query(`CREATE SCHEMA "${schemaName}"`);
      store = new PgStore({ pool, schemaName, createTableIfMissing: true, pruneSessionInterval: false });
      const app = (express as typeof express5)();
      app.use(
        session({
          store,
          secret: 'test secret',
          resave: false,
          saveUninitialized: false,
          cookie: { maxAge: 60_000 },
        }),
      );
      app.get('/login', (req, res) => {
        (req.session as any).user = 'ada';
        res.send('ok');
      });
      app.get('/me', (req, res) => {
        res.send(String((req.session as any).user ?? 'anonymous'));
      });
      app.get('/count', (req, res) => {
        const s = req.session as any;
        s.count = (s.count ?? 0) + 1;
        res.send(String(s.count));
      });
      app.get('/regenerate', (req, res, next) => {
        req.session.regenerate((error) => {
          if (error) return next(error);
          (req.session as any).user = 'ada again';
          res.send('ok');
        });
      });
      // The cookie shortened without another change of the session: express-session calls touch.
      app.get('/shorten', (req, res) => {
        req.session.cookie.maxAge = 5_000;
        res.send('ok');
      });
      app.get('/max-age', (req, res) => {
        res.send(String(req.session.cookie.maxAge));
      });
      app.get('/logout', (req, res, next) => {
        req.session.destroy((error) => (error ? next(error) : res.send('bye')));
      });
      server = await listen(createServer(app));
    });
    after(async () => {
      await server.close();
      await store.close();
      await pool.query(`DROP SCHEMA "${schemaName}" CASCADE`);
      await pool.end();
    });

    it('keeps a session across requests', async () => {
      const browser = new Browser(server.base);
      assert.equal((await browser.get('/me')).body, 'anonymous');
      await browser.get('/login');
      assert.ok(browser.cookie);
      assert.equal((await browser.get('/me')).body, 'ada');
      assert.equal((await browser.get('/count')).body, '1');
      assert.equal((await browser.get('/count')).body, '2');
      assert.equal((await browser.get('/me')).body, 'ada');
    });

    it('regenerate removes the old row; destroy removes the row', async () => {
      const browser = new Browser(server.base);
      await browser.get('/login');
      const before = await rows();
      const oldCookie = browser.cookie;
      await browser.get('/regenerate');
      assert.notEqual(browser.cookie, oldCookie);
      const afterRegenerate = await rows();
      assert.equal(afterRegenerate.length, before.length, 'one row replaced by another');
      assert.equal((await browser.get('/me')).body, 'ada again');
      await browser.get('/logout');
      assert.equal((await rows()).length, before.length - 1);
      assert.equal((await browser.get('/me')).body, 'anonymous');
    });

    it('a cookie shortened by a request (a touch) shortens the row, and later requests see the shorter one', async () => {
      const browser = new Browser(server.base);
      await browser.get('/login');
      await browser.get('/shorten');
      const [row] = (
        await pool.query(`SELECT extract(epoch FROM expire - now())::float8 AS left FROM "${schemaName}"."session"`)
      ).rows.filter((r) => r.left < 10);
      assert.ok(row !== undefined, 'a row ends within the shortened 5 s');
      const maxAge = Number((await browser.get('/max-age')).body);
      assert.ok(maxAge <= 5_000, `the next request sees the shorter cookie (maxAge ${maxAge})`);
    });

    it('gives an expired session a new one', async () => {
      const browser = new Browser(server.base);
      await browser.get('/login');
      await pool.query(`UPDATE "${schemaName}"."session" SET expire = now() - interval '1 second'`);
      assert.equal((await browser.get('/me')).body, 'anonymous');
    });
  });
}
