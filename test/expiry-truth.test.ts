import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import express from 'express';
import session from 'express-session';
import connectPgSimple, { PGStore } from '../src/index.js';
import { fastifyWithSession, useTestSchema } from './support/apps.js';
import { Browser, listen } from './support/http.js';

/**
 * What `get` hands back tells the truth about expiry: a lazy touch moves the row's expiry without
 * rewriting the stored text, so the cookie's `expires` comes from the row. A session of 4 s,
 * with a request every second that changes nothing: each request sees about 3 s left (the
 * stored text alone would count down: 3, 2, 1, …), and the session stays alive.
 */
const MAX_AGE_MS = 4000;
const EVERY_MS = 1000;
const pause = () => new Promise((r) => setTimeout(r, EVERY_MS));

describe('the expiry a loaded session carries', { concurrency: true }, () => {
  const schema = useTestSchema('cps_expiry_truth', 4);

  for (const resave of [false, true]) {
    it(`express-session (resave: ${resave}): maxAge does not count down while the session is used`, async () => {
      const store = new (connectPgSimple(session))(schema.storeOptions(`express_${resave}`));
      schema.onClose(() => store.close());
      const app = express();
      app.use(session({ store, secret: 's', resave, saveUninitialized: false, cookie: { maxAge: MAX_AGE_MS } }));
      app.get('/login', (req, res) => {
        (req.session as any).user = 'ada';
        res.send('ok');
      });
      app.get('/left', (req, res) => res.json({ user: (req.session as any).user, left: req.session.cookie.maxAge }));
      const server = await listen(createServer(app));
      schema.onClose(server.close);
      const browser = new Browser(server.base);
      await browser.get('/login');
      // Each request rolls the session forward, so the next one has about MAX_AGE minus the time since this one
      // started left; a stale stored expiry would count down from the login instead. (Bounds, not timings: on a
      // slow machine the time since the last request is measured, not assumed.)
      let lastStartedAt = Date.now();
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        await pause();
        const sinceLast = Date.now() - lastStartedAt;
        lastStartedAt = Date.now();
        const { user, left } = JSON.parse((await browser.get('/left')).body);
        assert.equal(user, 'ada', `request ${i}: still logged in`);
        seen.push(`${left} ms left, ${sinceLast} ms after the last request`);
        // A second of room for a loaded machine; a stale expiry is a further second short by the second request.
        assert.ok(left <= MAX_AGE_MS && left > MAX_AGE_MS - sinceLast - 1000, `request ${i}: ${seen.join('; ')}`);
      }
    });
  }

  it('@fastify/session: an active session is never ended by a stale stored expiry, and lazy touch writes less', async () => {
    const store = new PGStore(schema.storeOptions('fastify'));
    schema.onClose(() => store.close());
    const app = fastifyWithSession(store, MAX_AGE_MS);
    app.get('/login', async (request) => {
      request.session.set('user' as never, 'grace' as never);
      return 'ok';
    });
    app.get('/me', async (request) => String(request.session.get('user' as never) ?? 'anonymous'));
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    schema.onClose(() => app.close());
    const browser = new Browser(base);
    await browser.get('/login');
    const text = async () =>
      (await schema.pool.query(`SELECT sess::text AS sess FROM "${schema.schemaName}"."fastify"`)).rows[0]
        ?.sess as string;
    const written = await text();
    for (let i = 0; i < 4; i++) {
      await pause();
      assert.equal((await browser.get('/me')).body, 'grace', `request ${i}: still logged in`);
    }
    assert.equal(await text(), written, 'the stored text was never rewritten: every write was a touch');
  });
});
