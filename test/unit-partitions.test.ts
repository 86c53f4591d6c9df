import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isDroppable,
  maintenancePlan,
  type PartitionInfo,
  parsePartitioningComment,
  partitioningComment,
  partitionName,
  wantedRanges,
} from '../src/schema/partitions.js';
import { tableNames } from '../src/sql.js';
import { partitionedStatements } from '../src/statements/partitioned.js';

const DAY = 86_400;
const TODAY = 20_000 * DAY; // a UTC midnight
const partition = (from: number | null, to: number | null = from === null ? null : from + DAY): PartitionInfo => ({
  name: from === null ? 'public.session_default' : `public.session_${from}`,
  isDefault: from === null,
  from,
  to,
  rowEstimate: 0,
  deadTuples: 0,
  tableBytes: 0,
  indexBytes: 0,
  lastVacuum: null,
  lastAutovacuum: null,
});

describe('the partitioned layout, without a database', () => {
  it('records and reads back how a table is cut; anything else is no layout', () => {
    const layout = { widthSeconds: DAY, lifetimeSeconds: 7 * DAY };
    assert.deepEqual(parsePartitioningComment(partitioningComment(layout)), layout);
    for (const other of [null, undefined, '', 'connect-pg-simple partitions: soon', 'a comment of the users']) {
      assert.equal(parsePartitioningComment(other), undefined);
    }
  });

  it('wants the current partition and three ahead, aligned to UTC midnights', () => {
    assert.deepEqual(
      wantedRanges(DAY, TODAY + 3600).map((r) => [r.from - TODAY, r.to - TODAY]),
      [
        [0, DAY],
        [DAY, 2 * DAY],
        [2 * DAY, 3 * DAY],
        [3 * DAY, 4 * DAY],
      ],
    );
  });

  it('drops a partition once all of it is past the lifetime, never the DEFAULT one; creates only uncovered ranges', () => {
    const layout = { widthSeconds: DAY, lifetimeSeconds: DAY };
    const now = TODAY + 60;
    assert.equal(isDroppable(partition(TODAY - 2 * DAY), layout, now), true, 'ended a day before today');
    assert.equal(isDroppable(partition(TODAY - DAY), layout, now), false, 'its last sessions live until tomorrow');
    assert.equal(isDroppable(partition(null), layout, now), false);
    const plan = maintenancePlan(
      {
        now,
        // A hand-made partition of two days covers today's and tomorrow's ranges.
        partitions: [partition(null), partition(TODAY - 2 * DAY), partition(TODAY, TODAY + 2 * DAY)],
      },
      layout,
    );
    assert.deepEqual(
      plan.drop.map((p) => p.from),
      [TODAY - 2 * DAY],
    );
    assert.deepEqual(
      plan.create.map((r) => r.from),
      [TODAY + 2 * DAY, TODAY + 3 * DAY],
    );
  });

  it('names partitions after the table and their first day, within PostgreSQL’s limit', () => {
    assert.equal(partitionName(tableNames('session', 'app'), TODAY), '"app"."session_p20241004"');
    const long = partitionName(tableNames('x'.repeat(63)), TODAY);
    assert.ok(Buffer.byteLength(long) <= 65, long);
    assert.match(long, /_p20241004"$/);
  });

  it("the partitioned statements: one upsert that deletes then inserts, a get of the newest row, prune of the DEFAULT partition's rows", () => {
    const names = tableNames('session', 'app');
    const statements = partitionedStatements(names, { absoluteTimeoutSeconds: 3600 });
    assert.match(
      statements.upsert.text,
      /^WITH replaced AS \(DELETE FROM "app"\."session" WHERE sid = \$1::text RETURNING CASE WHEN .* THEN created END AS created\)\nINSERT INTO/,
    );
    assert.match(
      statements.upsert.text,
      /, coalesce\(\(SELECT min\(created\) FROM replaced\), now\(\)\), now\(\), \$4/,
      "the live row's creation time moves with it",
    );
    assert.doesNotMatch(statements.upsert.text, /ON CONFLICT|;/);
    assert.match(
      statements.get.text,
      /created > coalesce\(now\(\) - make_interval\(secs => 3600::float8\), '-infinity'\) ORDER BY created DESC LIMIT 1$/,
    );
    assert.match(statements.pruneBatch.text, /DELETE FROM "app"\."session_default" WHERE ctid/);
    const relaxed = partitionedStatements(names, { absoluteTimeoutSeconds: 3600, synchronousCommit: false });
    assert.match(
      relaxed.upsert.text,
      /^WITH replaced AS \(DELETE .*\)\nINSERT .* FROM \(SELECT set_config\('synchronous_commit', 'off', true\)\) AS commit_wait$/s,
    );
  });
});
