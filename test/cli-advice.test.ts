import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adviceFor } from '../src/cli/advice.js';
import { bytes, count, duration, percent } from '../src/cli/format.js';
import type { TableStats } from '../src/schema/stats.js';

const NOW = 1_750_000_000;

/** A healthy, current table of 10,000 sessions, vacuumed and analyzed an hour ago. */
const healthy: TableStats = {
  table: '"public"."session"',
  version: 3,
  now: NOW,
  liveSessions: 10_000,
  expiredSessions: 0,
  oldestExpiredAgeSeconds: null,
  tableBytes: 4_000_000,
  indexBytes: 1_000_000,
  storageOptions: ['fillfactor=90'],
  liveTuples: 10_000,
  deadTuples: 50,
  lastVacuum: null,
  lastAutovacuum: NOW - 3600,
  lastAnalyze: null,
  lastAutoanalyze: NOW - 3600,
};

const deadAdvice = (stats: TableStats) => adviceFor(stats).filter((line) => /dead/.test(line));

describe('stats advice', () => {
  it('has nothing to say about a healthy table', () => {
    assert.deepEqual(adviceFor(healthy), []);
  });

  it('says nothing of dead row versions right after a prune: autovacuum has not had its turn yet', () => {
    const pruned = { ...healthy, deadTuples: 8000 };
    assert.deepEqual(deadAdvice(pruned), [], 'last vacuumed an hour ago, before the prune');
    assert.deepEqual(deadAdvice({ ...pruned, lastAutovacuum: null }), [], 'never vacuumed yet');
  });

  it('speaks of dead row versions a recent vacuum left behind', () => {
    const [line, ...rest] = deadAdvice({ ...healthy, deadTuples: 8000, lastAutovacuum: NOW - 120 });
    assert.deepEqual(rest, []);
    assert.match(
      line!,
      /^44 % of the row versions are dead though the table was vacuumed 2 min ago: a long-running transaction/,
    );
  });

  it('says when autovacuum is off for the table', () => {
    const off = { ...healthy, storageOptions: ['fillfactor=90', 'autovacuum_enabled=false'] };
    assert.match(adviceFor(off).join('\n'), /autovacuum is turned off for this table: .*RESET \(autovacuum_enabled\)/);
  });

  it('formats numbers, sizes, ratios and durations one way', () => {
    assert.equal(count(1234567), '1,234,567');
    assert.equal(bytes(8192), '8192 bytes');
    assert.equal(bytes(5 * 1024 * 1024), '5120 kB');
    assert.equal(bytes(50 * 1024 * 1024), '50 MB');
    assert.equal(percent(0.4444), '44 %');
    assert.equal(percent(0.05), '5.0 %');
    assert.equal(duration(120), '2 min');
  });
});
