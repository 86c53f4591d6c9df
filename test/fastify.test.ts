import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { PGStore } from '../src/index.js';
import { databaseUrl, uniqueName } from './support/database.js';
import { Browser } from './support/http.js';

describe('Fastify 5 with @fastify/session', () => {
  let pool: pg.Pool;
  let store: InstanceType<typeof PGStore>;
  let schemaName: string;
  let app: FastifyInstance;
  let base: string;

  before(async () => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
    schemaName = uniqueName('cps_fastify');
    await pool.query(`CREATE SCHEMA "${schemaName}"`);
    store = new PGStore({ pool, schemaName, createTableIfMissing: true, pruneSessionInterval: false });
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
  after(async () => {
    await app.close();
    await store.close();
    await pool.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await pool.end();
  });

  it('keeps a session across requests and destroys it on logout', async () => {
    const browser = new Browser(base);
    assert.equal((await browser.get('/me')).body, 'anonymous');
    await browser.get('/login');
    assert.ok(browser.cookie);
    assert.equal((await browser.get('/me')).body, 'grace');
    const stored = await pool.query(`SELECT sess FROM "${schemaName}"."session"`);
    assert.equal(stored.rows.length, 1);
    assert.equal(stored.rows[0].sess.user, 'grace');
    await browser.get('/logout');
    assert.equal((await pool.query(`SELECT 1 FROM "${schemaName}"."session"`)).rows.length, 0);
    assert.equal((await browser.get('/me')).body, 'anonymous');
  });
});
