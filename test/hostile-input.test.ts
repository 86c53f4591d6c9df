import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import connectPgSimple from '../src/index.js';
import { uniqueName } from './support/database.js';
import { type DriverHarness, drivers } from './support/drivers.js';
import { assertSameSession, storedId } from './support/sessions.js';

/**
 * Hostile session ids and session data: each gives a clear error or a faithful round trip, and
 * nothing else in the table changes.
 */
const { PGStore } = connectPgSimple;
type Store = InstanceType<typeof PGStore>;

const cookie = () => ({ originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString() });
const session = (extra: Record<string, unknown> = {}) => ({ cookie: cookie(), ...extra });

/** Our own errors say who they are from; the database's carry a SQLSTATE. Nothing else is clear. */
function isClearError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.message.startsWith('connect-pg-simple: ') || /^[0-9A-Z]{5}$/.test(String((error as any).code));
}

function nested(depth: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let node = root;
  for (let i = 0; i < depth; i++) {
    const child: Record<string, unknown> = {};
    node.a = child;
    node = child;
  }
  return root;
}

for (const driverName of ['pg', 'postgres', 'pglite'] as const) {
  describe(`hostile input over ${driverName}`, () => {
    let harness: DriverHarness;
    let schemaName: string;
    let store: Store;
    const tableName = 'session';
    const logged: unknown[][] = [];
    const q = (text: string, values?: unknown[]) => harness.admin.query(text, values);
    const table = () => `"${schemaName}"."${tableName}"`;

    /** Every row as text: what must not change when an operation fails. */
    const snapshot = async () =>
      new Map(
        (await q(`SELECT sid, sess::text AS sess, expire::text AS expire FROM ${table()}`)).map((r) => [
          r.sid as string,
          `${r.sess}|${r.expire}`,
        ]),
      );
    const without = (rows: Map<string, string>, sid: string) => new Map([...rows].filter(([k]) => k !== storedId(sid)));

    async function rejectsClearly(label: string, run: () => Promise<unknown>, message?: RegExp) {
      const before = await snapshot();
      await assert.rejects(run, (error: Error) => {
        assert.ok(isClearError(error), `${label}: unclear error ${error?.name}: ${error?.message}`);
        if (message) assert.match(error.message, message, label);
        return true;
      });
      assert.deepEqual(await snapshot(), before, `${label}: the table did not change`);
    }

    async function roundTrips(label: string, sid: string, data: object, expected: unknown = undefined) {
      const before = await snapshot();
      await store.set(sid, data as any);
      const got = await store.get(sid);
      assertSameSession(got, expected ?? JSON.parse(JSON.stringify(data)), label);
      assert.deepEqual(without(await snapshot(), sid), without(before, sid), `${label}: no other row changed`);
      return got as any;
    }

    before(async () => {
      harness = await drivers[driverName]!();
      schemaName = uniqueName('cps_hostile');
      await q(`CREATE SCHEMA "${schemaName}"`);
      store = new PGStore({
        ...harness.storeOptions,
        schemaName,
        tableName,
        createTableIfMissing: true,
        pruneSessionInterval: false,
        errorLog: (...args: unknown[]) => logged.push(args),
      });
      for (const sid of ['bystander-1', 'bystander-2']) await store.set(sid, session({ keep: sid }) as any);
    });
    after(async () => {
      await store.close();
      await q(`DROP SCHEMA "${schemaName}" CASCADE`);
      await harness.close();
    });

    it('session ids: a clear error, or the id works as any other', async () => {
      for (const [label, sid, message] of [
        ['empty', '', /non-empty string/],
        ['NUL', 'a\u0000b', /NUL/],
        ['lone high surrogate', 'a\ud800', /well-formed/],
        ['lone low surrogate', '\udc00z', /well-formed/],
        ['too long', 'x'.repeat(1025), /at most 1024 bytes/],
        ['too long in bytes', 'é'.repeat(513), /at most 1024 bytes/],
        ['number', 42, /non-empty string/],
        ['object', { toString: () => 'x' }, /non-empty string/],
        ['null', null, /non-empty string/],
      ] as Array<[string, unknown, RegExp]>) {
        for (const [method, run] of [
          ['get', () => store.get(sid as string)],
          ['set', () => store.set(sid as string, session() as any)],
          ['touch', () => store.touch(sid as string, session() as any)],
          ['destroy', () => store.destroy(sid as string)],
        ] as Array<[string, () => Promise<unknown>]>) {
          await rejectsClearly(`${method} with ${label} sid`, run, message);
        }
      }
      for (const sid of [
        'x'.repeat(1024),
        'é'.repeat(512),
        'Zoë 🚀 日本語 שלום',
        'e\u0301\u200d\ufeff',
        `'"; DROP TABLE session; --\\`,
        ' ',
        '%s%n$1',
      ]) {
        await roundTrips(`sid ${JSON.stringify(sid.slice(0, 20))}`, sid, session({ sid }));
        await store.destroy(sid);
        assert.equal(await store.get(sid), null);
      }
    });

    it('session values: faithful round trips through JSON', async () => {
      const withProto = JSON.parse('{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}}}');
      const got = await roundTrips('__proto__ and constructor keys', 'proto', session({ withProto }));
      assert.equal(({} as any).polluted, undefined, 'no prototype pollution');
      assert.ok(Object.hasOwn(got.withProto, '__proto__'));
      await roundTrips(
        'NUL, lone surrogates and astral characters in strings and keys',
        'strings',
        session({ nul: 'a\u0000b', 'k\u0000ey': 1, lone: 'x\ud800y\udc00', emoji: '🚀', rtl: '\u202eabc' }),
      );
      await roundTrips(
        'Dates, undefined, functions, NaN and sparse arrays, as JSON has them',
        'json-ish',
        session({
          at: new Date('2025-01-02T03:04:05.000Z'),
          gone: undefined,
          fn: () => 1,
          nan: Number.NaN,
          inf: Number.POSITIVE_INFINITY,
          negZero: -0,
          sparse: new Array(3),
          holes: [1, undefined, 3],
          big: 1e308,
          tiny: 5e-324,
        }),
      );
      const megabyte = 'm'.repeat(1024 * 1024);
      await roundTrips('a 1 MB session', 'megabyte', session({ blob: megabyte }));
      await roundTrips('a session nested 1000 deep', 'deep-1000', session({ deep: nested(1000) }));
    });

    it('session values: a clear error for what JSON cannot hold, and nothing written', async () => {
      const circular: any = session();
      circular.self = circular;
      const throwingGetter = session();
      Object.defineProperty(throwingGetter, 'boom', {
        enumerable: true,
        get() {
          throw new Error('getter failed');
        },
      });
      for (const [label, data, message] of [
        ['nested 5000 deep (JSON.stringify: RangeError)', session({ deep: nested(5000) }), /cannot be stored as JSON/],
        ['nested 100000 deep', session({ deep: nested(100_000) }), /cannot be stored as JSON/],
        ['circular', circular, /cannot be stored as JSON/],
        ['BigInt', session({ n: 10n }), /BigInt/],
        ['a throwing toJSON', session({ x: { toJSON: () => assert.fail('toJSON failed') } }), /toJSON failed/],
        ['a throwing getter', throwingGetter, /getter failed/],
        ['an array', [session()], /must be an object/],
        ['a string', 'session', /must be an object/],
        ['null', null, /must be an object/],
        ...[
          ['a string', 'x'],
          ['an array', [1]],
          ['null', null],
          ['undefined', undefined],
          ['a number', 5],
        ].map(
          ([kind, value]) =>
            [
              `its own toJSON returning ${kind}`,
              session({ toJSON: () => value }),
              new RegExp(`toJSON\\(\\) must return an object, got ${kind}`),
            ] as const,
        ),
      ] as Array<[string, unknown, RegExp]>) {
        await rejectsClearly(`set with ${label}`, () => store.set('bystander-1', data as any), message);
      }
      const before = await snapshot();
      const error = await new Promise((resolve) => store.set('fresh', session({ toJSON: () => 'x' }) as any, resolve));
      assert.ok(error instanceof TypeError, `the callback got a TypeError: ${error}`);
      assert.deepEqual(await snapshot(), before, 'no row was written');
      // A session loaded from a deep row, then replaced by a plain one: compared safely, then written.
      const deepText = `{"cookie":{},"d":${'['.repeat(6000)}${']'.repeat(6000)}}`;
      await q(`INSERT INTO ${table()} (sid, sess, expire) VALUES ($2, $1::json, now() + interval '1 hour')`, [
        deepText,
        storedId('deep-row'),
      ]);
      assert.ok(await store.get('deep-row'));
      await roundTrips('replacing a deep stored session', 'deep-row', session({ flat: true }));
    });

    it('maxSessionSize: counts bytes, rejects one byte over, writes nothing', async () => {
      const limited = new PGStore({
        ...harness.storeOptions,
        schemaName,
        tableName,
        pruneSessionInterval: false,
        maxSessionSize: 1000,
      });
      try {
        const fixed = { cookie: { originalMaxAge: 3_600_000, expires: '2030-01-01T00:00:00.000Z' } };
        const padding = 1000 - Buffer.byteLength(JSON.stringify({ ...fixed, p: '' }));
        await limited.set('sized', { ...fixed, p: 'x'.repeat(padding) } as any);
        assert.ok(await limited.get('sized'), 'exactly maxSessionSize bytes is accepted');
        const before = await snapshot();
        for (const p of ['x'.repeat(padding + 1), 'é'.repeat(Math.ceil(padding / 2) + 1)]) {
          await assert.rejects(
            limited.set('sized', { ...fixed, p } as any),
            (error: Error) => error instanceof RangeError && /more than maxSessionSize \(1000\)/.test(error.message),
          );
        }
        assert.deepEqual(await snapshot(), before, 'nothing written');
      } finally {
        await limited.close();
      }
      for (const bad of [0, -1, 1.5, '1000', Number.NaN]) {
        assert.throws(
          () => new PGStore({ ...harness.storeOptions, maxSessionSize: bad as any }),
          /option "maxSessionSize"/,
        );
      }
    });

    it('a corrupt row in a 10.x json table reads as missing, is logged, and is left alone', async () => {
      const legacy = uniqueName('legacy');
      const t = `"${schemaName}"."${legacy}"`;
      await q(
        `CREATE TABLE ${t} ("sid" varchar NOT NULL PRIMARY KEY, "sess" json NOT NULL, "expire" timestamp(6) NOT NULL)`,
      );
      const corrupt: Array<[string, string]> = [
        ['string', '"just a string"'],
        ['array', '[]'],
        ['null', 'null'],
        ['number', '42'],
        ['boolean', 'true'],
      ];
      for (const [sid, sess] of corrupt) {
        await q(`INSERT INTO ${t} VALUES ($1, $2::json, now() + interval '1 hour')`, [sid, sess]);
      }
      await q(`INSERT INTO ${t} VALUES ('good', $1::json, now() + interval '1 hour')`, [JSON.stringify(session())]);
      const rows = async () =>
        (await q(`SELECT sid, sess::text AS sess, expire::text FROM ${t} ORDER BY sid`)).map((r) => JSON.stringify(r));
      const before = await rows();
      const legacyStore = new PGStore({
        ...harness.storeOptions,
        schemaName,
        tableName: legacy,
        pruneSessionInterval: false,
        errorLog: (...args: unknown[]) => logged.push(args),
      });
      try {
        await legacyStore.length();
        // The store says once that the table waits for its migration (ids not hashed yet).
        assert.match(String(logged.at(-1)?.[0]), /schema version 0: session ids are stored as given/);
        const logs = logged.length;
        for (const [sid] of corrupt) assert.equal(await legacyStore.get(sid), null, sid);
        assert.deepEqual(
          (await legacyStore.all()).map((s: any) => s.id),
          ['good'],
        );
        assert.equal(logged.length - logs, corrupt.length * 2, 'each corrupt row logged by get and by all');
        assert.ok(logged.slice(logs).every((line) => /corrupt/.test(String(line[0]))));
        assert.deepEqual(await rows(), before, 'reading changed nothing');
        await legacyStore.set('string', session({ repaired: true }) as any);
        assert.equal(((await legacyStore.get('string')) as any).repaired, true, 'a set repairs the row');
      } finally {
        await legacyStore.close();
      }
    });
  });
}
