import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CacheTrust } from '../src/cache-trust.js';
import { PollingUnusable } from '../src/drivers/polling.js';
import { ReadCache } from '../src/read-cache.js';
import { CHANGE_LOG_SCHEMA_VERSION, changeKeyOf } from '../src/schema/change-log.js';
import { tableNames } from '../src/sql.js';

/**
 * CacheTrust's rules, on a clock the test moves by hand and a polling connection the test
 * answers: what PostgreSQL answers is tested in change-log.test.ts and trusted-cache.test.ts.
 */
interface Pending {
  readonly text: string;
  readonly values: readonly unknown[];
  resolve(rows: Record<string, unknown>[]): void;
  reject(error: Error): void;
}

function trustAt({
  version = 150000,
  log = true,
  on = true,
  tableVersion = undefined as number | undefined,
  /** Where the store's table check found the table; null: not found yet. */
  schema = 'public' as string | null,
} = {}) {
  const clock = { now: 1000 };
  const cache = new ReadCache(
    { maxAgeMs: Number.POSITIVE_INFINITY, maxBytes: 1000, maxEntryBytes: 500, maxForgotten: 10 },
    () => clock.now,
  );
  const polls: Pending[] = [];
  const logged: string[] = [];
  let resets = 0;
  let opened = 0;
  const trust = new CacheTrust({
    cache,
    names: tableNames('session'),
    enableStatement: 'ALTER TABLE "session" ENABLE ALWAYS TRIGGER …',
    boundMs: 50,
    now: () => clock.now,
    log: (message) => logged.push(message),
    checkedTable: () => ({ version: tableVersion ?? CHANGE_LOG_SCHEMA_VERSION, schema: schema ?? undefined }),
    open: () => {
      opened++;
      return {
        query: (text, values) =>
          text.includes('server_version_num')
            ? Promise.resolve([{ version, log: String(log), on: String(on) }])
            : new Promise((resolve, reject) => polls.push({ text, values, resolve, reject })),
        reset: async () => {
          resets++;
        },
      };
    },
  });
  let xid = 100;
  /** Answers the oldest poll in flight, as a snapshot taken now would. */
  const answer = async ({
    keys = [] as string[],
    connection = 'c1',
    xmin = xid,
    on: stillOn = true,
    loggedBy = (_key: string) => String(xid),
  } = {}) => {
    while (polls.length === 0) await nextTurn();
    xid += 1;
    const row = {
      xmin: String(xmin),
      xmax: String(xid),
      xip: '',
      changes: keys.map((key) => `${key}:${loggedBy(key)}`).join(' ') || null,
      on: String(stillOn),
      connection,
    };
    polls.shift()?.resolve([row]);
    for (let i = 0; i < 3; i++) await nextTurn();
  };
  const remember = (sid: string, sentAt: number) => {
    const key = trust.keyToRemember(`stored-${sid}`, sentAt);
    if (key !== null) cache.rememberRead(sid, '{}', 3600, sentAt, cache.peek(sid), null, key);
  };
  /** The oldest poll in flight, once it is sent. */
  const sent = async () => {
    for (let i = 0; polls.length === 0 && i < 20; i++) await nextTurn();
    return polls[0];
  };
  return { clock, cache, trust, polls, logged, answer, remember, sent, resets: () => resets, opened: () => opened };
}

/** Starts the trust (the first read does), and applies its first poll: an epoch begins. */
async function epoch(t: ReturnType<typeof trustAt>) {
  assert.equal(t.trust.mayRemember(t.clock.now), false, 'nothing is remembered before the first poll');
  await t.answer();
  t.clock.now += 1;
}

describe('CacheTrust', () => {
  it('allows a hit only while the last applied poll was sent within the bound', async () => {
    const t = trustAt();
    await epoch(t);
    t.remember('a', t.clock.now);
    const readAt = t.cache.peek('a')!.readAt;
    assert.equal(t.trust.allows(readAt), true, 'the first poll was sent 1 ms ago');
    t.clock.now += 60;
    assert.equal(t.trust.allows(readAt), false, 'the last applied poll was sent 61 ms ago');
    assert.ok(await t.sent(), 'the next poll is on its way');
    t.clock.now += 10;
    await t.answer();
    assert.equal(t.trust.allows(readAt), true);
    t.clock.now += 40;
    assert.equal(t.trust.allows(readAt), true, 'sent 40 ms ago');
  });

  it('a read sent before the epoch began is not remembered; the first poll sends no snapshot, the next its own', async () => {
    const t = trustAt();
    const early = t.clock.now;
    assert.equal(t.trust.mayRemember(early), false);
    assert.deepEqual((await t.sent())?.values, [null, null]);
    await t.answer({ xmin: 7 });
    t.remember('early', early);
    assert.equal(t.cache.size, 0);
    t.clock.now += 30;
    t.trust.allows(t.clock.now);
    assert.deepEqual((await t.sent())?.values, ['101', '']);
  });

  it('forgets the keys a poll returns, all on `*`, and refuses a read in flight for a forgotten key', async () => {
    const t = trustAt();
    await epoch(t);
    t.remember('a', t.clock.now);
    t.remember('b', t.clock.now);
    const inFlight = t.clock.now;
    t.clock.now += 30;
    t.trust.allows(0);
    t.clock.now += 1;
    await t.answer({ keys: [changeKeyOf('stored-a'), changeKeyOf('stored-c')] });
    assert.equal(t.cache.peek('a'), undefined);
    assert.ok(t.cache.peek('b'));
    t.remember('c', inFlight);
    assert.equal(t.cache.peek('c'), undefined, 'a read sent before the poll was applied is not remembered');
    t.remember('c', t.clock.now + 1);
    assert.ok(t.cache.peek('c'), 'a read sent after it is');
    t.clock.now += 30;
    t.trust.allows(0);
    await t.answer({ keys: ['*'] });
    assert.equal(t.cache.size, 0);
  });

  it("keeps this process's own write through the poll that reports its transaction; any other transaction's change forgets it", async () => {
    const t = trustAt();
    await epoch(t);
    t.remember('a', t.clock.now);
    t.remember('b', t.clock.now);
    t.clock.now += 1;
    const written = (sid: string, xid: string) =>
      t.cache.rememberSwap(sid, `{"n":"${sid}"}`, t.clock.now + 3_600_000, t.clock.now, t.cache.peek(sid)!, xid);
    written('a', '500');
    written('b', '501');
    t.clock.now += 30;
    t.trust.allows(0);
    t.clock.now += 1;
    const a = changeKeyOf('stored-a');
    const b = changeKeyOf('stored-b');
    await t.answer({ keys: [a, b], loggedBy: (key) => (key === a ? '500' : '777') });
    assert.equal(t.cache.peek('a')?.text, '{"n":"a"}', 'its own transaction: kept');
    assert.equal(t.cache.peek('b'), undefined, 'another transaction changed it: forgotten');
    t.clock.now += 30;
    t.trust.allows(0);
    await t.answer({
      keys: [a, a],
      loggedBy: (() => {
        const xids = ['500', '502'];
        return () => xids.shift()!;
      })(),
    });
    assert.equal(t.cache.peek('a'), undefined, 'reported with another transaction in the same poll: forgotten');
  });

  it('another server process, a clean-up mark newer than the last snapshot, a failed poll: each begins a new epoch', async () => {
    const t = trustAt();
    await epoch(t);
    const next = async (options: Parameters<typeof t.answer>[0]) => {
      t.remember('a', t.clock.now);
      const before = t.clock.now;
      t.clock.now += 30;
      t.trust.allows(0);
      await t.answer(options);
      return before;
    };
    await next({ keys: ['-90'] });
    assert.ok(t.cache.peek('a'), 'a mark below the last snapshot’s xmin (100) changes nothing');
    let before = await next({ connection: 'c2' });
    assert.equal(t.cache.size, 0, 'a new connection: emptied');
    t.remember('old', before);
    assert.equal(t.cache.size, 0, 'and a read sent before it is not remembered');
    before = await next({ keys: [`-${1000}`] });
    assert.equal(t.cache.size, 0, 'a mark above the last xmin: rows it needed may be gone');

    t.remember('a', t.clock.now);
    t.clock.now += 30;
    t.trust.allows(0);
    while (t.polls.length === 0) await nextTurn();
    t.polls.shift()!.reject(new Error('connection terminated'));
    await nextTurn();
    await nextTurn();
    assert.equal(t.cache.size, 0);
    assert.ok(t.logged.some((line) => /cannot poll the change log: connection terminated/.test(line)));
    assert.equal(t.trust.mayRemember(t.clock.now), false, 'not between epochs');
    t.clock.now += 200;
    t.trust.allows(0);
    await t.answer({ connection: 'c3' });
    assert.ok(t.logged.some((line) => /trusted again/.test(line)));
    t.clock.now += 1;
    t.remember('d', t.clock.now);
    assert.ok(t.cache.peek('d'));
  });

  it('a table without the change log, with its triggers off or lost, an old server, a pooler: never trusted', async () => {
    const none = trustAt({ log: false });
    none.trust.mayRemember(none.clock.now);
    await nextTurn();
    await nextTurn();
    assert.ok(none.logged.some((line) => /has no change log .*migrate/.test(line)));
    assert.equal(await none.sent(), undefined, 'it does not poll');

    const off = trustAt({ on: false });
    off.trust.mayRemember(off.clock.now);
    await nextTurn();
    await nextTurn();
    assert.ok(off.logged.some((line) => /triggers are off: turn them on with ALTER TABLE/.test(line)));

    const old = trustAt({ version: 120000 });
    old.trust.mayRemember(old.clock.now);
    await nextTurn();
    await nextTurn();
    assert.ok(old.logged.some((line) => /PostgreSQL 13 or later/.test(line)));

    const t = trustAt();
    await epoch(t);
    t.remember('a', t.clock.now);
    t.clock.now += 30;
    t.trust.allows(0);
    await t.answer({ on: false });
    assert.equal(t.cache.size, 0);
    assert.ok(t.logged.some((line) => /lost its change-log triggers/.test(line)));

    const bounced = trustAt();
    bounced.trust.mayRemember(bounced.clock.now);
    while (bounced.polls.length === 0) await nextTurn();
    bounced.polls.shift()!.reject(new PollingUnusable('through a pooler'));
    await nextTurn();
    assert.ok(bounced.logged.some((line) => /through a pooler/.test(line)));
    bounced.clock.now += 10_000;
    bounced.trust.mayRemember(bounced.clock.now);
    assert.equal(await bounced.sent(), undefined, 'it stops trying');
  });

  it('a table the store found below the change log’s schema version: no connection is opened to ask', async () => {
    const t = trustAt({ tableVersion: 3 });
    for (let i = 0; i < 3; i++) {
      assert.equal(t.trust.mayRemember(t.clock.now), false);
      for (let j = 0; j < 5; j++) await nextTurn();
      t.clock.now += 31_000;
    }
    assert.equal(t.opened(), 0);
    assert.equal(t.polls.length, 0);
    assert.match(t.logged.join('\n'), /no change log/);
    const migrated = trustAt({ tableVersion: 4 });
    await epoch(migrated);
    assert.equal(migrated.opened(), 1, 'at the change log’s version it polls');
  });

  it('polls the change log of the schema the store found its table in, and none before it is found', async () => {
    const unfound = trustAt({ schema: null });
    for (let i = 0; i < 3; i++) {
      assert.equal(unfound.trust.mayRemember(unfound.clock.now), false);
      for (let j = 0; j < 5; j++) await nextTurn();
      unfound.clock.now += 200;
    }
    assert.equal(unfound.opened(), 0, 'no connection is opened while the table is not found');
    const found = trustAt({ schema: 'tenant' });
    found.trust.mayRemember(found.clock.now);
    const poll = await found.sent();
    assert.match(poll!.text, /FROM "tenant"\."session_changes"/, 'the log is named with its schema');
  });

  it('polls only while the cache is used', async () => {
    const t = trustAt();
    await epoch(t);
    t.clock.now += 3000;
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(t.polls.length, 0, 'idle for longer than two seconds: no next poll');
    t.trust.allows(0);
    assert.ok(await t.sent(), 'a lookup starts them again');
  });
});
