import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify, { type FastifyInstance } from 'fastify';
import { PGStore } from '../src/index.js';
import { useTestSchema } from './support/apps.js';
import { Browser } from './support/http.js';

describe('Fastify 5 with @fastify/session', () => {
  const db = useTestSchema('cps_fastify', 4);
  let store: InstanceType<typeof PGStore>;
  let app: FastifyInstance;
  let base: string;

  before(async () => {
    store = new PGStore({
      pool: db.pool,
      schemaName: db.schemaName,
      createTableIfMissing: true,
      pruneSessionInterval: false,
    });
    app = Fastify();
    app.register(fastifyCookie);
    app.register(fastifySession, {
      secret: 'a secret with minimum length of 32 characters',
      store: store as any,
      saveUninitialized: false,
      cookie: { secure: false, maxAge: 60_000 },
    });
    app.get('/login', async (request) => {
      request.session.set('user' as never, 'grace' as never);
      return 'ok';
    });
    app.get('/me', async (request) => String(request.session.get('user' as never) ?? 'anonymous'));
    app.get('/logout', async (request) => {
      await request.session.destroy();
      return 'bye';
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  db.onClose(async () => {
    await app.close();
    await store.close();
  });

  it('keeps a session across requests and destroys it on logout', async () => {
    const browser = new Browser(base);
    assert.equal((await browser.get('/me')).body, 'anonymous');
    await browser.get('/login');
    assert.ok(browser.cookie);
    assert.equal((await browser.get('/me')).body, 'grace');
    const stored = await db.pool.query(`SELECT sess FROM "${db.schemaName}"."session"`);
    assert.equal(stored.rows.length, 1);
    assert.equal(stored.rows[0].sess.user, 'grace');
    await browser.get('/logout');
    assert.equal((await db.pool.query(`SELECT 1 FROM "${db.schemaName}"."session"`)).rows.length, 0);
    assert.equal((await browser.get('/me')).body, 'anonymous');
  });
});
