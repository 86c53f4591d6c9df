import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CacheTrust } from '../src/cache-trust.js';
import type { Database } from '../src/drivers/database.js';
import type { NoticeEvents } from '../src/drivers/notice-listener.js';
import { ReadCache } from '../src/read-cache.js';
import { noticeKeyOf } from '../src/schema/change-notices.js';

/**
 * CacheTrust's rules, on a clock the test moves by hand and a listener the test drives: what the
 * database and the listening connection do is tested against PostgreSQL in trusted-cache.test.ts.
 */
function trustAt({ channel = 'cps_test' as string | null, on = true } = {}) {
  const clock = { now: 1000 };
  const cache = new ReadCache(
    { maxAgeMs: Number.POSITIVE_INFINITY, maxBytes: 1000, maxEntryBytes: 500, maxForgotten: 10 },
    () => clock.now,
  );
  const markers: string[] = [];
  const logged: string[] = [];
  let events: NoticeEvents | undefined;
  let markerSent = true;
  const db: Database = {
    query: async () => (channel === null ? [] : [{ channel, on }]),
    close: async () => {},
  };
  const trust = new CacheTrust({
    cache,
    db,
    table: '"session"',
    enableStatement: 'ALTER TABLE "session" ENABLE ALWAYS TRIGGER …',
    boundMs: 50,
    now: () => clock.now,
    log: (message) => logged.push(message),
    open: (_channel, given) => {
      events = given;
      return {
        sendMarker: async (payload) => {
          markers.push(payload);
          return markerSent;
        },
        close: async () => {},
      };
    },
  });
  /** The marker the trust sent last arrives, as the listener would deliver it. */
  const deliverLastMarker = () => events!.onNotice(markers.at(-1)!);
  const remember = (sid: string, sentAt: number) => {
    const key = trust.keyToRemember(`stored-${sid}`, sentAt);
    if (key !== null) cache.rememberRead(sid, '{}', 3600, sentAt, cache.peek(sid), null, key);
  };
  return {
    clock,
    cache,
    trust,
    markers,
    logged,
    remember,
    deliverLastMarker,
    events: () => events!,
    failMarkers: () => {
      markerSent = false;
    },
  };
}

/** Starts the trust (the first read does) and lets its listener say it listens. */
async function listening(t: ReturnType<typeof trustAt>) {
  assert.equal(t.trust.mayRemember(t.clock.now), false, 'nothing is remembered before it listens');
  await nextTurn();
  t.events().onListening();
  t.clock.now += 1;
}

describe('CacheTrust', () => {
  it('allows a hit only while the last marker that arrived was sent within the bound', async () => {
    const t = trustAt();
    await listening(t);
    t.remember('a', t.clock.now);
    assert.ok(t.cache.peek('a'), 'a read sent after LISTEN took effect is remembered');
    const readAt = t.cache.peek('a')!.readAt;
    assert.equal(t.trust.allows(readAt), false, 'no marker has arrived yet');
    assert.equal(t.markers.length, 1, 'the lookup sent a marker');
    t.clock.now += 10;
    t.deliverLastMarker();
    assert.equal(t.trust.allows(readAt), true);
    t.clock.now += 45;
    assert.equal(t.trust.allows(readAt), false, 'the marker was sent 55 ms ago: more than the bound');
    assert.equal(t.markers.length, 2, 'the next marker is on its way');
    t.clock.now += 5;
    t.deliverLastMarker();
    assert.equal(t.trust.allows(readAt), true);
  });

  it('ignores other stores’ markers, and markers of an earlier epoch', async () => {
    const t = trustAt();
    await listening(t);
    t.remember('a', t.clock.now);
    const readAt = t.cache.peek('a')!.readAt;
    t.trust.allows(readAt);
    const [, epoch, n] = t.markers[0]!.slice(1).split(':');
    t.events().onNotice(`!someoneelse:${epoch}:${n}`);
    assert.equal(t.trust.allows(readAt), false, 'another store’s marker proves nothing about this one’s');
    const previous = t.markers.at(-1)!;
    t.events().onLost('lost');
    t.events().onListening();
    t.clock.now += 1;
    t.events().onNotice(previous);
    t.remember('b', t.clock.now);
    assert.equal(t.trust.allows(t.cache.peek('b')!.readAt), false, 'a marker of the previous epoch');
  });

  it('forgets what notices name, all on `*`, and refuses a read in flight for a noticed key', async () => {
    const t = trustAt();
    await listening(t);
    t.remember('a', t.clock.now);
    t.remember('b', t.clock.now);
    const inFlight = t.clock.now;
    t.clock.now += 1;
    t.events().onNotice(`${noticeKeyOf('stored-a')} ${noticeKeyOf('stored-c')}`);
    assert.equal(t.cache.peek('a'), undefined);
    assert.ok(t.cache.peek('b'));
    t.remember('c', inFlight);
    assert.equal(t.cache.peek('c'), undefined, 'a read sent before the notice arrived is not remembered');
    t.remember('c', t.clock.now + 1);
    assert.ok(t.cache.peek('c'), 'a read sent after it is');
    t.events().onNotice('*');
    assert.equal(t.cache.size, 0);
  });

  it('a lost connection ends the epoch: nothing remembered before it is trusted, nor any read sent meanwhile', async () => {
    const t = trustAt();
    await listening(t);
    t.remember('a', t.clock.now);
    const before = t.clock.now;
    t.events().onLost('the listening connection ended');
    assert.equal(t.cache.size, 0);
    assert.ok(t.logged.some((line) => /the listening connection ended/.test(line)));
    t.clock.now += 5;
    t.remember('b', t.clock.now);
    assert.equal(t.cache.size, 0, 'not while it does not listen');
    t.events().onListening();
    t.clock.now += 1;
    t.remember('c', before);
    assert.equal(t.cache.size, 0, 'a read sent before it listened again');
    t.remember('d', t.clock.now);
    assert.ok(t.cache.peek('d'));
  });

  it('a table without change notices, or whose triggers stop, is not trusted', async () => {
    const none = trustAt({ channel: null });
    assert.equal(none.trust.mayRemember(none.clock.now), false);
    await nextTurn();
    assert.ok(none.logged.some((line) => /has no change notices .*migrate/.test(line)));
    assert.equal(none.trust.mayRemember(none.clock.now), false);

    const off = trustAt({ on: false });
    assert.equal(off.trust.mayRemember(off.clock.now), false);
    await nextTurn();
    assert.ok(off.logged.some((line) => /change notices are off .*turn them on with ALTER TABLE/.test(line)));
    assert.equal(off.events(), undefined, 'it does not listen');

    const t = trustAt();
    await listening(t);
    t.remember('a', t.clock.now);
    t.failMarkers();
    assert.equal(t.trust.allows(t.cache.peek('a')!.readAt), false);
    await nextTurn();
    assert.equal(t.cache.size, 0);
    assert.ok(t.logged.some((line) => /lost its change notices/.test(line)));
  });

  it('sends markers only while the cache is used', async () => {
    const t = trustAt();
    await listening(t);
    assert.equal(t.markers.length, 0, 'none before the first lookup');
    t.remember('a', t.clock.now);
    t.trust.allows(t.cache.peek('a')!.readAt);
    t.clock.now += 3000;
    t.deliverLastMarker();
    assert.equal(t.markers.length, 1, 'idle for longer than two seconds: no next marker');
  });
});
