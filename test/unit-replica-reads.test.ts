import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Database, Row } from '../src/drivers/database.js';
import { ReplayPositions } from '../src/replay-positions.js';
import { ReplicaReads } from '../src/replica-reads.js';
import { replicaStatements } from '../src/sql.js';
import { OperationsInFlight } from '../src/time-limit.js';
import { ANY_POSITION, parseLsn, WrittenSessions } from '../src/written-sessions.js';
import { eventually } from './support/database.js';

/** Bookkeeping on a clock the test moves by hand. */
function writtenAt(limits = { maxSessions: 3, maxAgeMs: 1000 }) {
  const clock = { now: 1000 };
  return { written: new WrittenSessions(limits, () => clock.now), clock };
}

describe('parseLsn', () => {
  it('orders positions as PostgreSQL does, not as text does', () => {
    assert.equal(parseLsn('0/0'), 0n);
    assert.equal(parseLsn('1/0'), 1n << 32n);
    assert.ok(parseLsn('0/FFFFFFFF') < parseLsn('1/0'));
    assert.ok(parseLsn('A/1') > parseLsn('9/FFFFFFFF'), 'hex, not decimal');
    assert.ok(parseLsn('16/b374d848') === parseLsn('16/B374D848'));
    assert.throws(() => parseLsn('nonsense'), /not a WAL position/);
  });
});

describe('WrittenSessions', () => {
  it('lets any replica answer for an id this process never wrote', () => {
    const { written } = writtenAt();
    assert.equal(written.requiredPosition('a'), ANY_POSITION);
    assert.equal(written.needsSample, false);
  });

  it('sends a just-written id to the primary until a position read after the write is known', () => {
    const { written, clock } = writtenAt();
    written.sampled(clock.now - 5, 50n);
    written.wrote('a');
    assert.equal(written.requiredPosition('a'), undefined, 'no sample after the write yet');
    assert.equal(written.needsSample, true);
    assert.equal(written.requiredPosition('b'), ANY_POSITION, 'other ids are not held up');
    // A sample sent at the very moment the write ended is not trusted to cover it.
    written.sampled(clock.now, 60n);
    assert.equal(written.requiredPosition('a'), undefined);
    clock.now += 1;
    written.sampled(clock.now, 70n);
    assert.equal(written.requiredPosition('a'), 70n);
    assert.equal(written.needsSample, false);
    clock.now += 1;
    written.sampled(clock.now, 80n);
    assert.equal(written.requiredPosition('a'), 70n, 'the first sample after the write, not the latest');
  });

  it('takes the latest write of an id', () => {
    const { written, clock } = writtenAt();
    written.wrote('a');
    clock.now += 1;
    written.sampled(clock.now, 10n);
    clock.now += 1;
    written.wrote('a');
    assert.equal(written.requiredPosition('a'), undefined);
    clock.now += 1;
    written.sampled(clock.now, 20n);
    assert.equal(written.requiredPosition('a'), 20n);
  });

  it('keeps what it forgets as a floor for every id: bounded memory, no weaker guarantee', () => {
    const { written, clock } = writtenAt({ maxSessions: 2, maxAgeMs: 1000 });
    written.wrote('a');
    clock.now += 1;
    written.sampled(clock.now, 10n);
    clock.now += 1;
    written.wrote('b');
    clock.now += 1;
    written.sampled(clock.now, 20n);
    clock.now += 1;
    written.wrote('c'); // past maxSessions: 'a' is forgotten, its position becomes the floor
    assert.equal(written.size, 2);
    assert.equal(written.requiredPosition('a'), 10n);
    assert.equal(written.requiredPosition('never'), 10n, 'the floor applies to every id');
    assert.equal(written.requiredPosition('b'), 20n);
    clock.now += 1000; // past maxAgeMs: all forgotten; the floor is the last write's
    assert.equal(written.requiredPosition('a'), undefined, 'no sample after "c" yet');
    assert.equal(written.size, 0);
    written.sampled(clock.now, 30n);
    assert.equal(written.requiredPosition('b'), 30n);
  });

  it('makes clear() a write of every id', () => {
    const { written, clock } = writtenAt();
    written.wroteAll();
    assert.equal(written.requiredPosition('x'), undefined);
    clock.now += 1;
    written.sampled(clock.now, 40n);
    assert.equal(written.requiredPosition('x'), 40n);
  });
});

describe('ReplayPositions', () => {
  it('trusts only a position seen by a statement that ended before this one was sent', () => {
    const positions = new ReplayPositions();
    assert.equal(positions.covers('s1', 100, 1n), false, 'an unknown server');
    positions.observed('s1', 50n, 100);
    assert.equal(positions.covers('s1', 100, 50n), false, 'sent at the moment it was seen');
    assert.equal(positions.covers('s1', 101, 50n), true);
    assert.equal(positions.covers('s1', 101, 51n), false, 'not replayed that far');
    assert.equal(positions.covers('s2', 101, 50n), false, 'another server says nothing about this one');
  });

  it('keeps an older observation for statements sent before the newest one arrived', () => {
    const positions = new ReplayPositions();
    positions.observed('s1', 50n, 100);
    positions.observed('s1', 60n, 105);
    assert.equal(positions.covers('s1', 106, 60n), false, 'replaced at most every 10 ms');
    positions.observed('s1', 70n, 120);
    assert.equal(positions.covers('s1', 119, 50n), true, 'sent before 70 was seen: 50 holds');
    assert.equal(positions.covers('s1', 119, 70n), false);
    assert.equal(positions.covers('s1', 121, 70n), true);
    positions.observed('s1', 65n, 200);
    assert.equal(positions.covers('s1', 201, 70n), true, 'a lower position (another connection) changes nothing');
  });
});

/** ReplicaReads on databases that answer from memory: what it asks, and what it trusts. */
function replicaReadsOn(replicaRow: () => Row | Promise<Row>, primaryLsn = '0/100') {
  const clock = { now: 1000 };
  const asked = { replica: 0, primary: 0 };
  const logged: unknown[][] = [];
  const replica: Database = {
    query: async () => {
      asked.replica++;
      return [await replicaRow()];
    },
    close: async () => {},
  };
  const primary: Database = {
    query: async () => {
      asked.primary++;
      return [{ lsn: primaryLsn }];
    },
    close: async () => {},
  };
  const inFlight = new OperationsInFlight(1000);
  const reads = new ReplicaReads({
    replica,
    primary,
    statements: () => replicaStatements({ name: 'get', text: 'SELECT 1' }),
    inFlight,
    now: () => clock.now,
    log: (...args) => logged.push(args),
  });
  return { reads, asked, logged, inFlight, clock };
}

const row = (sess: string | null, replayed: string | null) => ({ sess, remaining: 60, replayed, server: 's1' });

describe('ReplicaReads', () => {
  it('takes the replica’s row for a session this process never wrote, and never a miss', async () => {
    let answer = row('{"a":1}', '0/50');
    const { reads } = replicaReadsOn(() => answer);
    assert.equal((await reads.read('x', ['x'], undefined))?.sess, '{"a":1}');
    answer = row(null, '0/50');
    assert.equal(await reads.read('x', ['x'], undefined), undefined, 'a miss: the primary answers');
    reads.stop();
  });

  it('after a write, asks the primary alone until the replica is seen past a position read after the write', async () => {
    let replayed = '0/50';
    const { reads, asked, clock } = replicaReadsOn(() => row('{"a":2}', replayed), '0/100');
    reads.wrote('x');
    clock.now += 1;
    assert.equal(await reads.read('x', ['x'], undefined), undefined);
    assert.equal(asked.replica, 0, 'no position known yet: the replica is not even asked');
    assert.ok(
      await eventually(async () => asked.primary === 1, 5000),
      "the primary's WAL position is read after the write",
    );
    clock.now += 1;
    assert.equal(await reads.read('x', ['x'], undefined), undefined, 'the replica was at 0/50, below 0/100');
    replayed = '0/120';
    clock.now += 20; // a server's position is replaced at most every 10 ms
    assert.equal(await reads.read('x', ['x'], undefined), undefined, 'it says 0/120, but only for reads sent later');
    clock.now += 1;
    assert.equal((await reads.read('x', ['x'], undefined))?.sess, '{"a":2}');
    assert.equal(asked.primary, 1, 'no writes since: no more samples');
    reads.stop();
  });

  it('falls back when the replica fails, logging once per run of failures; a time limit that ran out is an error', async () => {
    let fail: Error | undefined = new Error('replica down');
    const { reads, logged, inFlight } = replicaReadsOn(() => (fail ? Promise.reject(fail) : row('{}', '0/1')));
    assert.equal(await reads.read('x', ['x'], undefined), undefined);
    assert.equal(await reads.read('x', ['x'], undefined), undefined);
    assert.equal(logged.length, 1);
    fail = undefined;
    assert.equal((await reads.read('x', ['x'], undefined))?.sess, '{}');
    fail = new Error('down again');
    await reads.read('x', ['x'], undefined);
    assert.equal(logged.length, 2, 'a new run of failures is logged again');
    const deadline = inFlight.begin('get()')!;
    (deadline as { expired?: unknown }).expired = new Error('timed out');
    await assert.rejects(reads.read('x', ['x'], deadline), /down again/);
    inFlight.end(deadline);
    reads.stop();
  });
});
