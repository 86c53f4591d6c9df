import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import session from 'express-session';
import type { FastifyInstance } from 'fastify';
import { SessionCore } from '../src/core.js';
import connectPgSimple, { PGStore } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { fastifyWithSession, useTestSchema } from './support/apps.js';
import { Gates } from './support/gates.js';
import { Browser, listen } from './support/http.js';
import { inSeconds } from './support/sessions.js';

/**
 * A logout is final: whatever a process remembers or has forgotten, no write of a request that
 * loaded a session brings it back once it was destroyed, here or on another instance.
 */

const ExpressStore = connectPgSimple(session);
/** The same browser (one cookie) talking to two app instances. */
function twoTabs(first: string, second: string): [Browser, Browser] {
  const a = new Browser(first);
  const b = new Browser(second);
  return [a, b];
}

describe('a logout is final', () => {
  const schema = useTestSchema('cps_final');
  const rows = async () => (await schema.pool.query(`SELECT sid FROM "${schema.schemaName}"."session"`)).rows;
  const storeOptions = () => schema.storeOptions();

  it('after the store read many other sessions', async () => {
    const store = new PGStore({ ...storeOptions(), tableName: 'many' });
    try {
      await store.set('victim', { ...inSeconds(600), user: 1 } as any);
      const loaded = (await store.get('victim')) as any;
      await schema.pool.query(
        `INSERT INTO "${schema.schemaName}"."many" (sid, sess, expire) SELECT 'other' || i, '{"cookie":{}}', now() + interval '1 hour' FROM generate_series(1, 10100) i`,
      );
      for (let i = 1; i <= 10_100; i += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, j) => store.get(`other${i + j}`)));
      }
      await store.destroy('victim');
      await store.set('victim', { ...loaded, page: 2 });
      const left = await schema.pool.query(`SELECT 1 FROM "${schema.schemaName}"."many" WHERE sid = 'victim'`);
      assert.equal(left.rows.length, 0);
    } finally {
      await store.close();
    }
  });

  it('for a request that runs longer than any memory of it would last', async () => {
    let now = 0;
    const options = resolveOptions({ ...storeOptions(), tableName: 'long' });
    const core = new SessionCore(options, { requireCookie: false, now: () => now });
    const elsewhere = new PGStore({ ...storeOptions(), tableName: 'long' });
    try {
      await core.save('slow', { ...inSeconds(3600), user: 1 }, undefined);
      const { session: loaded, receipt } = (await core.load('slow'))!;
      now += 60 * 60_000; // an hour-long upload
      await elsewhere.destroy('slow');
      await core.save('slow', { ...loaded, uploaded: true }, receipt);
      await core.refresh('slow', loaded, receipt);
      const left = await schema.pool.query(`SELECT 1 FROM "${schema.schemaName}"."long" WHERE sid = 'slow'`);
      assert.equal(left.rows.length, 0);
    } finally {
      await Promise.all([core.close(), elsewhere.close()]);
    }
  });

  describe('with express-session, a slow request in flight during logout', () => {
    const gates = new Gates();
    const instances: Array<{ store: InstanceType<typeof ExpressStore>; close: () => Promise<void>; base: string }> = [];

    before(async () => {
      for (let i = 0; i < 2; i++) {
        const store = new ExpressStore(storeOptions());
        const app = express();
        app.use(session({ store, secret: 'test secret', resave: false, saveUninitialized: false }));
        app.get('/login', (req, res) => {
          (req.session as any).user = 'ada';
          res.send('ok');
        });
        app.get('/me', (req, res) => res.send(String((req.session as any).user ?? 'anonymous')));
        app.get('/slow/:name', async (req, res) => {
          await gates.wait(req.params.name);
          (req.session as any).lastPage = req.params.name;
          res.send('done');
        });
        app.get('/logout', (req, res, next) => req.session.destroy((e) => (e ? next(e) : res.send('bye'))));
        const server = await listen(createServer(app));
        instances.push({ store, base: server.base, close: server.close });
      }
    });
    after(async () => {
      for (const { store, close } of instances) {
        await close();
        await store.close();
      }
    });

    it('on the same instance', async () => {
      const [browser] = twoTabs(instances[0]!.base, instances[0]!.base);
      await browser.get('/login');
      const slow = browser.get('/slow/e1');
      await gates.reached('e1');
      await browser.get('/logout');
      gates.open('e1');
      await slow;
      assert.equal((await browser.get('/me')).body, 'anonymous');
    });

    it('two overlapping requests on one instance, logout on the other', async () => {
      const [onA, onB] = twoTabs(instances[0]!.base, instances[1]!.base);
      await onA.get('/login');
      onB.cookie = onA.cookie;
      const first = onB.get('/slow/e2');
      const second = onB.get('/slow/e3');
      await gates.reached('e2');
      await gates.reached('e3');
      const before = (await rows()).length;
      await onA.get('/logout');
      gates.open('e2');
      gates.open('e3');
      await Promise.all([first, second]);
      assert.equal((await rows()).length, before - 1, 'the session stays deleted');
      assert.equal((await onB.get('/me')).body, 'anonymous');
    });

    it('refuses the named PGStore, which lacks what express-session needs, with a message saying what to use', () => {
      const store = new PGStore(storeOptions());
      try {
        assert.throws(
          () => session({ store: store as any, secret: 's', resave: false, saveUninitialized: false }),
          (error: Error) =>
            error instanceof TypeError && /require\("connect-pg-simple"\)\(session\)/.test(error.message),
        );
      } finally {
        void store.close();
      }
    });
  });

  describe('with @fastify/session, a slow request that never touches the session', () => {
    const gates = new Gates();
    const apps: FastifyInstance[] = [];
    const stores: PGStore[] = [];
    const bases: string[] = [];

    before(async () => {
      for (let i = 0; i < 2; i++) {
        const store = new PGStore({ ...storeOptions(), tableName: 'fastify' });
        const app = fastifyWithSession(store);
        app.get('/login', async (request) => {
          request.session.set('user' as never, 'grace' as never);
          return 'ok';
        });
        app.get('/me', async (request) => String(request.session.get('user' as never) ?? 'anonymous'));
        app.get<{ Params: { name: string } }>('/slow/:name', async (request) => {
          await gates.wait(request.params.name);
          return 'done';
        });
        app.get('/logout', async (request) => {
          await request.session.destroy();
          return 'bye';
        });
        app.get('/regenerate', async (request) => {
          await request.session.regenerate();
          request.session.set('user' as never, 'grace again' as never);
          return 'ok';
        });
        bases.push(await app.listen({ port: 0, host: '127.0.0.1' }));
        apps.push(app);
        stores.push(store);
      }
    });
    after(async () => {
      for (const app of apps) await app.close();
      for (const store of stores) await store.close();
    });

    const fastifyRows = async () => (await schema.pool.query(`SELECT sid FROM "${schema.schemaName}"."fastify"`)).rows;

    it('on the same instance', async () => {
      const [browser] = twoTabs(bases[0]!, bases[0]!);
      await browser.get('/login');
      const slow = browser.get('/slow/f1');
      await gates.reached('f1');
      await browser.get('/logout');
      gates.open('f1');
      await slow;
      assert.deepEqual(await fastifyRows(), []);
      assert.equal((await browser.get('/me')).body, 'anonymous');
    });

    it('two overlapping requests on one instance, logout on the other', async () => {
      const [onA, onB] = twoTabs(bases[0]!, bases[1]!);
      await onA.get('/login');
      onB.cookie = onA.cookie;
      const first = onB.get('/slow/f2');
      const second = onB.get('/slow/f3');
      await gates.reached('f2');
      await gates.reached('f3');
      await onA.get('/logout');
      gates.open('f2');
      gates.open('f3');
      await Promise.all([first, second]);
      assert.deepEqual(await fastifyRows(), []);
      assert.equal((await onB.get('/me')).body, 'anonymous');
    });

    it('regenerate still stores the new session, and the old one stays gone', async () => {
      const browser = new Browser(bases[0]!);
      await browser.get('/login');
      const [before] = await fastifyRows();
      await browser.get('/regenerate');
      assert.equal((await browser.get('/me')).body, 'grace again');
      const after = await fastifyRows();
      assert.equal(after.length, 1);
      assert.notEqual(after[0].sid, before.sid);
      await browser.get('/logout');
    });

    it('still keeps what a request changes in a session it loaded', async () => {
      const browser = new Browser(bases[1]!);
      await browser.get('/login');
      assert.equal((await browser.get('/me')).body, 'grace');
      const slow = browser.get('/slow/f4');
      await gates.reached('f4');
      gates.open('f4');
      await slow;
      assert.equal((await browser.get('/me')).body, 'grace', 'the rolling write updated, not lost, the session');
    });
  });
});
