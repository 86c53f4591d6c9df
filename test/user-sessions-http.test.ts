import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import session from 'express-session';
import connectPgSimple, { PGStore } from '../src/index.js';
import { fastifyWithSession, useTestSchema } from './support/apps.js';
import { Gates } from './support/gates.js';
import { Browser, listen } from './support/http.js';

/**
 * Sessions per user end to end: express-session (and @fastify/session) over real HTTP, a Passport-shaped login
 * (`req.session.passport.user`), "where you're signed in", "sign out other devices", "sign out
 * this device", and a revocation while a request of the revoked session is in flight.
 */

const ExpressStore = connectPgSimple(session);

describe('sessions per user with express-session, over HTTP', () => {
  const schema = useTestSchema('cps_users_http');
  const gates = new Gates();
  let store: InstanceType<typeof ExpressStore>;
  let base: string;

  const rowsOf = async (user: string) =>
    (await schema.pool.query(`SELECT sid FROM "${schema.schemaName}"."session" WHERE user_id = $1`, [user])).rows;

  before(async () => {
    store = new ExpressStore({
      ...schema.storeOptions(),
      describe: (_session, req) => {
        const request = req as express.Request | undefined;
        return { ip: request?.socket.remoteAddress ?? null, agent: request?.get('user-agent') ?? null };
      },
    });
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(session({ store, secret: 'test secret', resave: false, saveUninitialized: false }));
    const userOf = (req: express.Request) => (req.session as any).passport?.user as string | undefined;

    app.post('/login', (req, res, next) => {
      // As Passport's req.login does: a new session id, then the user.
      req.session.regenerate((error) => {
        if (error) return next(error);
        (req.session as any).passport = { user: String(req.body.user) };
        res.send('welcome');
      });
    });
    app.post('/logout', (req, res) => {
      // As Passport before 0.6 did: the user goes, the session (and its id) stays.
      delete (req.session as any).passport;
      res.send('bye');
    });
    app.get('/me', (req, res) => res.send(userOf(req) ?? 'anonymous'));
    app.get('/devices', async (req, res, next) => {
      const user = userOf(req);
      if (user === undefined) return res.status(401).send('sign in');
      try {
        const sessions = await store.userSessions(user);
        const mine = store.sessionHandle(req.sessionID);
        res.json(sessions.map((s) => ({ handle: s.handle, current: s.handle === mine, details: s.details })));
      } catch (error) {
        next(error);
      }
    });
    app.post('/devices/others/revoke', async (req, res, next) => {
      const user = userOf(req);
      if (user === undefined) return res.status(401).send('sign in');
      try {
        res.send(String(await store.destroyUserSessions(user, { except: req.sessionID })));
      } catch (error) {
        next(error);
      }
    });
    app.post('/devices/revoke', async (req, res, next) => {
      const user = userOf(req);
      if (user === undefined) return res.status(401).send('sign in');
      try {
        res.send(String(await store.destroySession(String(req.body.handle), { userId: user })));
      } catch (error) {
        next(error);
      }
    });
    app.get('/slow/:name', async (req, res) => {
      await gates.wait(req.params.name);
      (req.session as any).views = ((req.session as any).views ?? 0) + 1;
      res.send('done');
    });
    const server = await listen(createServer(app));
    base = server.base;
    schema.onClose(() => store.close());
    schema.onClose(server.close);
  });
  after(() => gates.open('b1'));

  it('lists where a user is signed in, marks this device, and signs the others out', async () => {
    const [laptop, phone] = [new Browser(base), new Browser(base)];
    assert.equal((await laptop.post('/login', { user: 'ada' })).body, 'welcome');
    assert.equal((await phone.post('/login', { user: 'ada' })).body, 'welcome');
    await new Browser(base).post('/login', { user: 'bob' });

    const seen = JSON.parse((await laptop.get('/devices')).body);
    assert.equal(seen.length, 2);
    assert.deepEqual(seen.map((s: any) => s.current).sort(), [false, true]);
    for (const s of seen) {
      assert.equal(s.details.ip, '127.0.0.1', 'describe saw the request');
      assert.equal(typeof s.details.agent, 'string');
    }
    const fromPhone = JSON.parse((await phone.get('/devices')).body);
    assert.notEqual(
      fromPhone.find((s: any) => s.current).handle,
      seen.find((s: any) => s.current).handle,
      'each device sees itself marked',
    );

    assert.equal((await laptop.post('/devices/others/revoke')).body, '1');
    assert.equal((await phone.get('/me')).body, 'anonymous', 'the phone is signed out');
    assert.equal((await laptop.get('/me')).body, 'ada', 'the laptop is not');
    assert.equal((await rowsOf('ada')).length, 1);
  });

  it('signs out one device by its handle, only the user’s own', async () => {
    const [mine, other] = [new Browser(base), new Browser(base)];
    await mine.post('/login', { user: 'carol' });
    await other.post('/login', { user: 'carol' });
    const mallory = new Browser(base);
    await mallory.post('/login', { user: 'mallory' });
    const handle = JSON.parse((await mine.get('/devices')).body).find((s: any) => !s.current).handle;

    assert.equal((await mallory.post('/devices/revoke', { handle })).body, 'false', "not mallory's to revoke");
    assert.equal((await other.get('/me')).body, 'carol');
    assert.equal((await mine.post('/devices/revoke', { handle })).body, 'true');
    assert.equal((await other.get('/me')).body, 'anonymous');
    assert.equal(JSON.parse((await mine.get('/devices')).body).length, 1);
  });

  it('a revoked session stays revoked when a request of it was in flight', async () => {
    const [here, there] = [new Browser(base), new Browser(base)];
    await here.post('/login', { user: 'dan' });
    await there.post('/login', { user: 'dan' });
    const slow = there.get('/slow/b1');
    await gates.reached('b1');
    assert.equal((await here.post('/devices/others/revoke')).body, '1');
    gates.open('b1');
    assert.equal((await slow).body, 'done');
    assert.equal((await there.get('/me')).body, 'anonymous', 'the in-flight request did not bring it back');
    assert.equal((await rowsOf('dan')).length, 1);
  });

  it('logout takes the session off the user’s list, and it lives on anonymous', async () => {
    const browser = new Browser(base);
    await browser.post('/login', { user: 'erin' });
    const [row] = await rowsOf('erin');
    assert.ok(row);
    assert.equal((await browser.post('/logout')).body, 'bye');
    assert.deepEqual(await store.userSessions('erin'), []);
    assert.equal((await browser.get('/me')).body, 'anonymous');
    const kept = await schema.pool.query(`SELECT user_id FROM "${schema.schemaName}"."session" WHERE sid = $1`, [
      row.sid,
    ]);
    assert.deepEqual(kept.rows, [{ user_id: null }], 'the same row, without a user');
  });
});

describe('sessions per user with @fastify/session, over HTTP', () => {
  const schema = useTestSchema('cps_users_fastify');
  let store: PGStore;
  let base: string;

  before(async () => {
    store = new PGStore({ ...schema.storeOptions(), describe: (s) => ({ device: String(s.device ?? 'unknown') }) });
    const app = fastifyWithSession(store);
    app.get<{ Querystring: { user: string; device: string } }>('/login', async (request) => {
      await request.session.regenerate();
      request.session.set('userId' as never, request.query.user as never);
      request.session.set('device' as never, request.query.device as never);
      return 'welcome';
    });
    app.get('/me', async (request) => String(request.session.get('userId' as never) ?? 'anonymous'));
    app.get('/devices', async (request) => {
      const mine = store.sessionHandle(request.session.sessionId);
      const sessions = await store.userSessions(String(request.session.get('userId' as never)));
      return sessions.map((s) => ({ current: s.handle === mine, device: s.details?.device }));
    });
    app.get('/others/revoke', async (request) =>
      String(
        await store.destroyUserSessions(String(request.session.get('userId' as never)), {
          except: request.session.sessionId,
        }),
      ),
    );
    app.get('/logout', async (request) => {
      request.session.set('userId' as never, undefined as never);
      return 'bye';
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    schema.onClose(() => store.close());
    schema.onClose(() => app.close());
  });

  it('lists, marks this device, signs out the others, and logs out', async () => {
    const [desk, phone] = [new Browser(base), new Browser(base)];
    await desk.get('/login?user=grace&device=desk');
    await phone.get('/login?user=grace&device=phone');
    const seen = JSON.parse((await desk.get('/devices')).body);
    assert.deepEqual(seen.map((s: any) => `${s.device}${s.current ? ' (this)' : ''}`).sort(), ['desk (this)', 'phone']);
    assert.equal((await desk.get('/others/revoke')).body, '1');
    assert.equal((await phone.get('/me')).body, 'anonymous');
    assert.equal((await desk.get('/me')).body, 'grace');
    assert.equal((await desk.get('/logout')).body, 'bye');
    assert.deepEqual(await store.userSessions('grace'), [], 'a logout in place takes the session off the list');
  });
});
