import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplayPositions } from '../src/replay-positions.js';
import { ANY_POSITION, parseLsn, WrittenSessions } from '../src/written-sessions.js';

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
