import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countOf, progressOf } from '../src/cli/format.js';

describe('the CLI counts things in words', () => {
  it('one session, two sessions, no sessions', () => {
    assert.equal(countOf(1, 'session'), '1 session');
    assert.equal(countOf(0, 'session'), '0 sessions');
    assert.equal(countOf(1200, 'expired session'), '1,200 expired sessions');
    assert.equal(countOf(2, 'entry', 'entries'), '2 entries');
  });

  it('progress against a total: a percentage, and the time left at the pace so far', () => {
    assert.equal(progressOf(0, 48_000, 'session', 0), '0 of 48,000 sessions (0.0 %)', 'no pace yet, no estimate');
    assert.equal(progressOf(12_000, 48_000, 'session', 60_000), '12,000 of 48,000 sessions (25 %), about 3 min left');
    assert.equal(progressOf(48_000, 48_000, 'session', 240_000), '48,000 of 48,000 sessions (100 %)');
    assert.equal(progressOf(0, 0, 'session', 5), '0 of 0 sessions (100 %)', 'nothing to do is all done');
    // Sessions that expired after the count: the total grows with what was done.
    assert.equal(progressOf(1_010, 1_000, 'session', 1000), '1,010 of 1,010 sessions (100 %)');
  });
});
