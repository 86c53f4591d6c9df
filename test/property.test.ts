import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import connectPgSimple from '../src/index.js';
import { uniqueName } from './support/database.js';
import { type DriverHarness, drivers } from './support/drivers.js';
import { storedId } from './support/sessions.js';

/**
 * Random sequences of store operations against a plain Map as the model: they must agree.
 * Sessions live an hour (ttl), so nothing expires mid-run.
 */
const { PGStore } = connectPgSimple;

type Data = Record<string, unknown>;
type Command =
  | { op: 'get'; sid: string }
  | { op: 'set'; sid: string; data: Data }
  | { op: 'touch'; sid: string; expires: string }
  | { op: 'destroy'; sid: string }
  | { op: 'all' }
  | { op: 'length' }
  | { op: 'clear' };

const sid = fc.constantFrom('a', 'b', 'c', 'Zoë 🚀', 'x'.repeat(300), '"; DROP TABLE x; --');
const expires = fc.integer({ min: 60, max: 7200 }).map((s) => new Date(Date.UTC(2030, 0, 1) + s * 1000).toISOString());
// Well-formed strings only (with NUL and astral characters); lone surrogates are fuzz.test.ts's business.
const value = fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' });
const data = fc.record({
  cookie: fc.record({ originalMaxAge: fc.constant(3_600_000), expires }),
  user: value,
  extra: fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 8 }), value, { maxKeys: 3 }),
});
const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('get' as const), sid }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('set' as const), sid, data }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('touch' as const), sid, expires }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('destroy' as const), sid }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('all' as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('length' as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('clear' as const) }), weight: 1 },
);

/** A session as the store gives it back: through JSON, without the cookie's expiry (a touch may skip writing it). */
function comparable(session: unknown): unknown {
  if (session === null) return null;
  const copy = JSON.parse(JSON.stringify(session));
  delete copy.cookie.expires;
  return copy;
}

for (const driverName of ['pg', 'pglite'] as const) {
  describe(`store agrees with a model over ${driverName}`, () => {
    let harness: DriverHarness;
    let schemaName: string;

    before(async () => {
      harness = await drivers[driverName]!();
      schemaName = uniqueName('cps_property');
      await harness.admin.query(`CREATE SCHEMA "${schemaName}"`);
    });
    after(async () => {
      await harness.admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
      await harness.close();
    });

    it('for random sequences of get/set/touch/destroy/all/length/clear', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(command, { maxLength: 30 }), async (commands) => {
          const store = new PGStore({
            ...harness.storeOptions,
            schemaName,
            createTableIfMissing: true,
            pruneSessionInterval: false,
            ttl: 3600,
            errorLog: (...args: unknown[]) => assert.fail(`errorLog: ${args.join(' ')}`),
          });
          const model = new Map<string, Data>();
          try {
            await store.clear();
            for (const c of commands) {
              switch (c.op) {
                case 'get':
                  assert.deepEqual(comparable(await store.get(c.sid)), comparable(model.get(c.sid) ?? null));
                  break;
                case 'set':
                  await store.set(c.sid, c.data as any);
                  model.set(c.sid, c.data);
                  break;
                case 'touch': {
                  const known = model.get(c.sid);
                  await store.touch(c.sid, {
                    ...(known ?? {}),
                    cookie: { originalMaxAge: 3_600_000, expires: c.expires },
                  } as any);
                  break;
                }
                case 'destroy':
                  await store.destroy(c.sid);
                  model.delete(c.sid);
                  break;
                case 'all': {
                  const listed = (await store.all()).map((s: any) => [s.id, comparable(s)]);
                  // Listed by the id the table holds: the hash of the session id.
                  const expected = [...model].map(([k, v]) => [storedId(k), comparable({ ...v, id: storedId(k) })]);
                  const bySid = (x: unknown[], y: unknown[]) => ((x[0] as string) < (y[0] as string) ? -1 : 1);
                  assert.deepEqual(listed.sort(bySid), expected.sort(bySid));
                  break;
                }
                case 'length':
                  assert.equal(await store.length(), model.size);
                  break;
                case 'clear':
                  await store.clear();
                  model.clear();
                  break;
              }
            }
          } finally {
            await store.close();
          }
        }),
        { numRuns: 50 },
      );
    });
  });
}
