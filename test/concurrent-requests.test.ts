import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import express from 'express';
import session from 'express-session';
import fc from 'fast-check';
import connectPgSimple, { PGStore } from '../src/index.js';
import { fastifyWithSession, useTestSchema } from './support/apps.js';
import { Gates } from './support/gates.js';
import { Browser, listen } from './support/http.js';
import { legacyStore } from './support/legacy.js';

/**
 * Requests of one session, each loading it, changing some top-level keys and writing it back,
 * in random interleavings (writes at once or one after another): the stored session must equal
 * every request's own changes applied key by key, in the order the writes committed.
 */

type Data = Record<string, unknown>;
type Change = { key: string; value: unknown } | { key: string; deleted: true };
type Step = { request: number; kind: 'load' | 'write' };

const KEYS = ['a', 'b', 'c', 'cart', 'user'];
const change: fc.Arbitrary<Change> = fc.oneof(
  fc.record({
    key: fc.constantFrom(...KEYS),
    value: fc.oneof(fc.integer(), fc.string(), fc.array(fc.integer(), { maxLength: 3 }), fc.constant({ nested: 1 })),
  }),
  fc.record({ key: fc.constantFrom(...KEYS), deleted: fc.constant(true as const) }),
);
const requestChanges = fc.array(change, { minLength: 1, maxLength: 3 });

/** A load and a write per request, each load before its write, otherwise in any order. */
function schedule(requests: number): fc.Arbitrary<Step[]> {
  const steps = Array.from({ length: requests }, (_, request) => [
    { request, kind: 'load' as const },
    { request, kind: 'write' as const },
  ]).flat();
  return fc.shuffledSubarray(steps, { minLength: steps.length, maxLength: steps.length }).map((shuffled) => {
    const loaded = new Set<number>();
    const ordered: Step[] = [];
    const pending: Step[] = [];
    for (const step of shuffled) {
      if (step.kind === 'write' && !loaded.has(step.request)) pending.push(step);
      else ordered.push(step);
      if (step.kind === 'load') {
        loaded.add(step.request);
        const waiting = pending.findIndex((p) => p.request === step.request);
        if (waiting >= 0) ordered.push(...pending.splice(waiting, 1));
      }
    }
    return ordered;
  });
}

function apply(target: Data, changes: readonly Change[]): void {
  for (const c of changes) {
    if ('deleted' in c) delete target[c.key];
    else target[c.key] = structuredClone(c.value);
  }
}

/** What one request changed relative to what it loaded, as the store sees it: top-level keys, as JSON. */
function ownChanges(base: Data, after: Data): Change[] {
  const out: Change[] = [];
  for (const key of new Set([...Object.keys(base), ...Object.keys(after)])) {
    if (!Object.hasOwn(after, key)) out.push({ key, deleted: true });
    else if (JSON.stringify(base[key]) !== JSON.stringify(after[key])) out.push({ key, value: after[key] });
  }
  return out;
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

const withoutCookie = ({ cookie: _cookie, ...rest }: Data) => rest;

describe('concurrent requests of one session', () => {
  const schema = useTestSchema('cps_concurrent');
  let stores: PGStore[];

  before(async () => {
    // Two app instances; about merging writes, not the read cache (whose bound lets the final get see its own write for 50 ms).
    const options = { ...schema.storeOptions(), readCache: false };
    stores = [new PGStore(options), new PGStore(options)];
    for (const store of stores) schema.onClose(() => store.close());
    await stores[0]!.length();
  });

  it("keep each request's own changes, key by key, in commit order", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 2, max: 4 })
          .chain((n) => fc.tuple(fc.array(requestChanges, { minLength: n, maxLength: n }), schedule(n), fc.boolean())),
        async ([changes, steps, writesAtOnce]) => {
          const sid = `s${run++}`;
          const initial: Data = { cookie: { originalMaxAge: 3_600_000, expires: null }, a: 0, cart: [1], user: 'u' };
          await stores[0]!.set(sid, structuredClone(initial) as any);
          const sessions = new Map<number, Data>();
          const bases = new Map<number, Data>();
          const writes: number[] = [];
          for (const step of steps) {
            const store = stores[step.request % 2]!;
            if (step.kind === 'load') {
              const loaded = (await store.get(sid)) as unknown as Data;
              bases.set(step.request, structuredClone(withoutCookie(loaded)));
              apply(loaded, changes[step.request]!);
              sessions.set(step.request, loaded);
            } else writes.push(step.request);
          }
          // Writes one after another in that order, or all at once: then the database orders them,
          // and the client cannot see that order, so any order of the writes may be the one.
          if (writesAtOnce) {
            await Promise.all(writes.map((r) => stores[r % 2]!.set(sid, sessions.get(r) as any)));
          } else {
            for (const r of writes) await stores[r % 2]!.set(sid, sessions.get(r) as any);
          }
          const stored = withoutCookie((await stores[0]!.get(sid)) as unknown as Data);
          const outcomes = (writesAtOnce ? permutations(writes) : [writes]).map((order) => {
            const model = withoutCookie(structuredClone(initial));
            for (const r of order) apply(model, ownChanges(bases.get(r)!, withoutCookie(sessions.get(r)!)));
            return model;
          });
          assert.ok(
            outcomes.some((model) => isDeepStrictEqual(stored, model)),
            `stored ${JSON.stringify(stored)}, expected one of ${JSON.stringify(outcomes)}`,
          );
        },
      ),
      { numRuns: 60 },
    );
  });
});

/**
 * What a user sees: a slow request (an upload) and a quick one (the cart) of one session, at the
 * same time, each changing its own keys: afterwards both changes are in the session.
 */
describe('a slow and a quick request of one session, over HTTP', () => {
  const schema = useTestSchema('cps_concurrent_http');
  const gates = new Gates();

  /** The slow request sets, deletes and replaces keys; the quick one changes others. */
  const slowChanges = (s: Record<string, unknown>) => {
    s.uploadId = 'u1';
    delete s.draft;
    s.tags = ['new'];
  };
  const quickChanges = (s: Record<string, unknown>) => {
    s.cart = [...((s.cart as string[]) ?? []), 'book'];
    s.theme = 'dark';
  };
  const seed = (s: Record<string, unknown>) => {
    s.user = 'ada';
    s.draft = 'text';
    s.tags = ['old'];
    s.cart = [];
  };
  const expected = { user: 'ada', tags: ['new'], uploadId: 'u1', cart: ['book'], theme: 'dark' };

  async function expressApp(store: session.Store): Promise<string> {
    const app = express();
    app.use(session({ store, secret: 'test secret', resave: false, saveUninitialized: false }));
    app.get('/seed', (req, res) => {
      seed(req.session as any);
      res.send('ok');
    });
    app.get('/slow', async (req, res) => {
      await gates.wait('slow');
      slowChanges(req.session as any);
      res.send('ok');
    });
    app.get('/quick', (req, res) => {
      quickChanges(req.session as any);
      res.send('ok');
    });
    app.get('/show', (req, res) => {
      const { cookie: _cookie, ...data } = req.session as any;
      res.json(data);
    });
    const server = await listen(createServer(app));
    schema.onClose(server.close);
    return server.base;
  }

  async function fastifyApp(store: PGStore): Promise<string> {
    const app = fastifyWithSession(store);
    app.get('/seed', async (request) => {
      seed(request.session as any);
      return 'ok';
    });
    app.get('/slow', async (request) => {
      await gates.wait('slow');
      slowChanges(request.session as any);
      return 'ok';
    });
    app.get('/quick', async (request) => {
      quickChanges(request.session as any);
      return 'ok';
    });
    app.get('/show', async (request) => {
      const data: Record<string, unknown> = {};
      for (const key of ['user', 'tags', 'uploadId', 'cart', 'theme', 'draft']) {
        const value = request.session.get(key as never);
        if (value !== undefined) data[key] = value;
      }
      return data;
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    schema.onClose(() => app.close());
    return base;
  }

  /** Seeds on the first instance, the slow request on it, the quick one on the last; the session as read afterwards. */
  async function race(bases: string[]): Promise<unknown> {
    const first = new Browser(bases[0]!);
    await first.get('/seed');
    const last = new Browser(bases.at(-1)!);
    last.cookie = first.cookie;
    const slow = first.get('/slow');
    await gates.reached('slow');
    await last.get('/quick');
    gates.open('slow');
    await slow;
    return JSON.parse((await first.get('/show')).body);
  }

  const ExpressStore = connectPgSimple(session);
  const newExpressStore = (tableName: string) => {
    const store = new ExpressStore(schema.storeOptions(tableName));
    schema.onClose(() => store.close());
    return store;
  };
  const newPGStore = (tableName: string) => {
    const store = new PGStore(schema.storeOptions(tableName));
    schema.onClose(() => store.close());
    return store;
  };

  it('express-session, one instance: both changes are kept', async () => {
    const base = await expressApp(newExpressStore('express_one'));
    assert.deepEqual(await race([base]), expected);
  });

  it('express-session, two instances: both changes are kept', async () => {
    const bases = [await expressApp(newExpressStore('express_two')), await expressApp(newExpressStore('express_two'))];
    assert.deepEqual(await race(bases), expected);
  });

  it('@fastify/session, one instance and two: both changes are kept', async () => {
    assert.deepEqual(await race([await fastifyApp(newPGStore('fastify_one'))]), expected);
    const bases = [await fastifyApp(newPGStore('fastify_two')), await fastifyApp(newPGStore('fastify_two'))];
    assert.deepEqual(await race(bases), expected);
  });

  it("(control) connect-pg-simple 10 loses the quick request's change in the same race", async () => {
    const store = legacyStore(schema.pool, schema.schemaName, 'legacy');
    schema.onClose(() => store.close());
    const seen = (await race([await expressApp(store as unknown as session.Store)])) as Record<string, unknown>;
    assert.equal(seen.uploadId, 'u1');
    assert.deepEqual(seen.cart, [], 'the last write won: the cart change is gone');
  });
});
