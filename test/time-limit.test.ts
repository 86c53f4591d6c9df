import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { OperationTimeoutError } from '../src/errors.js';
import { type Deadline, OperationsInFlight, untilDeadline } from '../src/time-limit.js';

const activeTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('operations in flight and their time limits', () => {
  it('expires each operation once, oldest first, never before its time', async () => {
    const inFlight = new OperationsInFlight(200);
    const expired: string[] = [];
    const started = performance.now();
    const watch = (what: string) => {
      const deadline = inFlight.begin(what)!;
      deadline.onExpire = () => {
        assert.ok(performance.now() - started >= (what === 'last' ? 299 : 199), `${what} expired early`);
        expired.push(what);
      };
      return deadline;
    };
    const first = watch('first');
    const middle = watch('middle');
    await sleep(100);
    const last = watch('last');
    inFlight.end(middle); // ends in time: never expires
    await sleep(140);
    assert.deepEqual(expired, ['first']);
    assert.ok(first.expired instanceof OperationTimeoutError);
    assert.match(first.expired.message, /first took longer than operationTimeout \(200 ms\)/);
    assert.equal(middle.expired, undefined);
    await sleep(100);
    assert.deepEqual(expired, ['first', 'last']);
    inFlight.end(first);
    inFlight.end(last);
    assert.equal(inFlight.count, 0);
  });

  it('counts operations until they end, and says when none is left', async () => {
    const inFlight = new OperationsInFlight(false);
    const a = inFlight.begin('a');
    const b = inFlight.begin('b', false);
    assert.equal(a, undefined, 'no limit, no deadline');
    assert.equal(inFlight.count, 2);
    let idle = false;
    const whenIdle = inFlight.whenIdle().then(() => {
      idle = true;
    });
    inFlight.end(a);
    await sleep(1);
    assert.equal(idle, false);
    inFlight.end(b);
    await whenIdle;
    assert.equal(inFlight.count, 0);
  });

  it('leaves no timer behind once nothing is in flight', async () => {
    const before = activeTimers();
    const inFlight = new OperationsInFlight(10_000);
    const deadlines = Array.from({ length: 5 }, (_, i) => inFlight.begin(`op ${i}`));
    assert.equal(activeTimers(), before + 1, 'one timer for all operations');
    for (const i of [2, 0, 4, 1, 3]) inFlight.end(deadlines[i]);
    assert.equal(activeTimers(), before);
  });

  it('fails a statement sent after the deadline at once, and one that outlives it at the deadline', async () => {
    const inFlight = new OperationsInFlight(30);
    // Taken before the deadline begins: a pause between the two would make the deadline look early.
    const started = performance.now();
    const deadline = inFlight.begin('get()') as Deadline;
    const never = new Promise<never>(() => {});
    let cancelled = false;
    await assert.rejects(
      untilDeadline(never, deadline, () => {
        cancelled = true;
      }),
      OperationTimeoutError,
    );
    assert.ok(performance.now() - started >= 29);
    assert.ok(cancelled, 'cancel called on expiry');
    await assert.rejects(untilDeadline(never, deadline), OperationTimeoutError);
    inFlight.end(deadline);
  });
});
