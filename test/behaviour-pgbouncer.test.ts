import { describe, it } from 'node:test';
import { behaviourSuite } from './support/behaviour.js';
import { pgbouncerMissing, pgbouncerTracksPreparedStatements, pgbouncerVersion } from './support/pgbouncer.js';

const missing = pgbouncerMissing();
if (missing && process.env.CI) {
  // CI installs pgbouncer (.ci/install-system-packages): there a missing one is a failure, never a skip.
  throw new Error(`${missing} (CI must run every suite)`);
}
if (missing) {
  describe('store behaviour through PgBouncer', () => {
    it('runs the behaviour suite through PgBouncer in transaction pooling mode', { skip: missing }, () => {});
  });
} else {
  console.log(`# PgBouncer ${pgbouncerVersion().join('.')}, transaction pooling`);
  behaviourSuite('pgbouncer');
  if (pgbouncerTracksPreparedStatements()) behaviourSuite('pgbouncer-prepared');
  else console.log('# PgBouncer < 1.21 has no max_prepared_statements: the store falls back to unnamed statements');
}
