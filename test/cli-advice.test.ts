import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adviceFor } from '../src/cli/advice.js';
import { bytes, count, duration, percent } from '../src/cli/format.js';
import type { TableStats } from '../src/schema/stats.js';

const NOW = 1_750_000_000;

/** A healthy, current table of 10,000 sessions, vacuumed and analyzed an hour ago. */
const healthy: TableStats = {
  table: '"public"."session"',
  version: 4,
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
  countsEstimated: false,
  partitions: undefined,
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

  describe('of a partitioned table', () => {
    const DAY = 86_400;
    const today = Math.floor(NOW / DAY) * DAY;
    const partition = (from: number | null, rows = 1000, droppable = false) => ({
      name: from === null ? 'public.session_default' : `public.session_p${from}`,
      isDefault: from === null,
      from,
      to: from === null ? null : from + DAY,
      rowEstimate: rows,
      deadTuples: 0,
      tableBytes: 8192,
      indexBytes: 8192,
      lastVacuum: null,
      lastAutovacuum: null,
      droppable,
    });
    const partitioned = (partitions: ReturnType<typeof partition>[], lifetimeSeconds = DAY): TableStats => ({
      ...healthy,
      expiredSessions: 5000,
      oldestExpiredAgeSeconds: 5 * DAY,
      lastAnalyze: null,
      lastAutoanalyze: null,
      partitions: { partitioning: { widthSeconds: DAY, lifetimeSeconds }, partitions },
    });
    const current = [partition(null, 0), partition(today), partition(today + DAY, 0)];

    it('says nothing of expired rows waiting for their partition, nor of the parent never analyzed', () => {
      // Droppable for a minute: the next prune drops it.
      const lifetime = NOW - today - 60;
      assert.deepEqual(adviceFor(partitioned([partition(today - DAY, 1000, true), ...current], lifetime)), []);
    });

    it('says when droppable partitions are overdue, the DEFAULT partition fills, or none is ready ahead', () => {
      const overdue = adviceFor(partitioned([partition(today - 5 * DAY, 1000, true), ...current]));
      assert.equal(overdue.length, 1);
      assert.match(overdue[0]!, /1 partitions hold only dead sessions .* pruning is not running/);
      const filling = adviceFor(partitioned([partition(null, 50_000), partition(today), partition(today + DAY)]));
      assert.match(filling.join('\n'), /the DEFAULT partition holds about 50,000 sessions/);
      const nothingAhead = adviceFor(partitioned([partition(null, 0), partition(today - 2 * DAY)]));
      assert.match(nothingAhead.join('\n'), /no partition covers the sessions created from now on/);
    });

    it('says when the table does not record how it is partitioned', () => {
      const unsaid = { ...partitioned(current), partitions: { partitioning: undefined, partitions: current } };
      assert.match(adviceFor(unsaid).join('\n'), /does not say how: stores refuse it/);
    });
  });
});
