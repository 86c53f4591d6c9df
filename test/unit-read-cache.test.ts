import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadCache } from '../src/read-cache.js';

/** A cache on a clock the test moves by hand. */
function cacheAt(limits: Partial<ConstructorParameters<typeof ReadCache>[0]> = {}) {
  const clock = { now: 1000 };
  const cache = new ReadCache(
    { maxAgeMs: 500, maxBytes: 100, maxEntryBytes: 60, maxForgotten: 3, ...limits },
    () => clock.now,
  );
  return { cache, clock };
}

describe('ReadCache', () => {
  it('serves a read for maxAgeMs, and only while the row was known alive', () => {
    const { cache, clock } = cacheAt();
    cache.rememberRead('a', '{"v":1}', 10, clock.now);
    cache.rememberRead('b', '{"v":2}', 0.2, clock.now);
    clock.now += 250;
    assert.equal(cache.recall('a')?.text, '{"v":1}');
    assert.equal(cache.recall('b'), undefined, 'expired 200 ms after the read');
    clock.now += 250;
    assert.equal(cache.recall('a'), undefined, 'older than maxAgeMs');
  });

  it('keeps to its byte budget, dropping the oldest first, and never holds an oversized session', () => {
    const { cache, clock } = cacheAt();
    cache.rememberRead('a', 'x'.repeat(40), 10, clock.now);
    cache.rememberRead('b', 'y'.repeat(40), 10, clock.now);
    cache.rememberRead('c', 'z'.repeat(40), 10, clock.now);
    assert.equal(cache.bytes, 80);
    assert.equal(cache.recall('a'), undefined);
    assert.ok(cache.recall('b') && cache.recall('c'));
    cache.rememberRead('b', 'w'.repeat(61), 10, clock.now, cache.peek('b'));
    assert.equal(cache.recall('b'), undefined, 'too large: not cached, and the older text is gone too');
    assert.equal(cache.bytes, 40);
  });

  it('ignores a read sent before the id was destroyed or all were cleared here', () => {
    const { cache, clock } = cacheAt();
    const sentAt = clock.now;
    clock.now += 1;
    cache.forget('a');
    cache.rememberRead('a', '{}', 10, sentAt);
    assert.equal(cache.recall('a'), undefined);
    cache.rememberRead('a', '{}', 10, clock.now + 1);
    assert.ok(cache.recall('a'), 'a read sent after the destroy is kept');
    const beforeClear = clock.now + 1;
    clock.now += 2;
    cache.clear();
    cache.rememberRead('b', '{}', 10, beforeClear);
    assert.equal(cache.recall('b'), undefined);
    assert.equal(cache.bytes, 0);
  });

  it('still refuses old reads of ids it no longer lists as destroyed', () => {
    const { cache, clock } = cacheAt();
    const sentAt = clock.now;
    for (const sid of ['a', 'b', 'c', 'd']) {
      clock.now += 1;
      cache.forget(sid);
    }
    cache.rememberRead('a', '{}', 10, sentAt);
    assert.equal(cache.recall('a'), undefined, '"a" fell out of the list, but its read is as old as it');
  });

  it('drops an entry that changed while a statement was in flight', () => {
    const { cache, clock } = cacheAt();
    const startedFrom = cache.peek('a');
    cache.rememberRead('a', '{"v":1}', 10, clock.now);
    cache.rememberRead('a', '{"v":0}', 10, clock.now, startedFrom);
    assert.equal(cache.recall('a'), undefined);
  });

  it('takes a write only over an entry a read made, never lengthening its life', () => {
    const { cache, clock } = cacheAt();
    cache.rememberWrite('new', '{"v":1}', 100, clock.now, undefined);
    assert.equal(cache.recall('new'), undefined, 'written, never read: not served');
    cache.rememberRead('a', '{"v":1}', 0.3, clock.now);
    cache.rememberWrite('a', '{"v":2}', 100, clock.now, cache.peek('a'));
    assert.equal(cache.recall('a')?.text, '{"v":2}');
    clock.now += 301;
    assert.equal(cache.recall('a'), undefined, 'the write may have found the row gone');
  });

  it('forgets an entry by its notice key, keeps its byte budget with keys, and refuses a read in flight for a noticed key', () => {
    const { cache, clock } = cacheAt({ maxAgeMs: Number.POSITIVE_INFINITY });
    cache.rememberRead('a', 'x'.repeat(40), 10, clock.now, undefined, null, 'key-a');
    cache.rememberRead('b', 'y'.repeat(40), 10, clock.now, undefined, null, 'key-b');
    cache.rememberRead('c', 'z'.repeat(40), 10, clock.now, undefined, null, 'key-c');
    assert.equal(cache.bytes, 80, 'the oldest went to keep 100 bytes');
    cache.forgetKey('key-a');
    assert.ok(cache.recall('b'), 'the key of an entry already gone forgets nothing else');
    const sentAt = clock.now;
    clock.now += 1;
    cache.forgetKey('key-b');
    assert.equal(cache.recall('b'), undefined);
    assert.equal(cache.bytes, 40);
    cache.rememberRead('b', '{}', 10, sentAt, undefined, null, 'key-b');
    assert.equal(cache.recall('b'), undefined, 'a read sent before the notice arrived');
    cache.rememberWrite('c', '{"v":2}', 10, clock.now, cache.peek('c'));
    cache.forgetKey('key-c');
    assert.equal(cache.recall('c'), undefined, 'a written entry keeps the key of the read it came from');
  });

  it('a swap refused because its key was noticed after it was sent also forgets a read that filled the entry meanwhile', () => {
    const { cache, clock } = cacheAt({ maxAgeMs: Number.POSITIVE_INFINITY });
    cache.rememberRead('a', '{"v":0}', 10, clock.now, undefined, null, 'key-a');
    const before = cache.peek('a')!;
    const swapSentAt = clock.now;
    clock.now += 1;
    cache.forgetKey('key-a', 'another-transaction');
    clock.now += 1;
    // A read sent after the notice, answered before the swap committed: the text before the swap.
    cache.rememberRead('a', '{"v":0}', 10, clock.now, undefined, null, 'key-a');
    assert.equal(cache.recall('a')?.text, '{"v":0}');
    cache.rememberSwap('a', '{"v":1}', clock.now + 10_000, swapSentAt, before, 'this-transaction');
    assert.equal(cache.recall('a'), undefined, 'neither the old text nor the unconfirmed new one is served');
    cache.rememberRead('a', '{"v":1}', 10, clock.now - 1, undefined, null, 'key-a');
    assert.equal(cache.recall('a'), undefined, 'nor a read sent before the swap was settled');
  });

  it('a touch lengthens an entry’s life to what the touch left the row, never shortens it', () => {
    const { cache, clock } = cacheAt({ maxAgeMs: Number.POSITIVE_INFINITY });
    cache.rememberRead('a', '{}', 1, clock.now);
    cache.extend('a', 10, clock.now, cache.peek('a'));
    clock.now += 5000;
    assert.ok(cache.recall('a'), 'the touch left it 10 s');
    cache.extend('a', 1, clock.now - 5000, cache.peek('a'));
    assert.ok(cache.recall('a'), 'not shortened');
    cache.forget('a');
    cache.extend('a', 10, clock.now, undefined);
    assert.equal(cache.recall('a'), undefined, 'nothing to lengthen');
  });
});
