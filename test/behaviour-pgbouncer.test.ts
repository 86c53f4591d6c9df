import { describe, it } from 'node:test';
import { behaviourSuite } from './support/behaviour.js';
import { pgbouncerMissing, pgbouncerTracksPreparedStatements, pgbouncerVersion } from './support/pgbouncer.js';
import { skipUnlessInstalled } from './support/system-tools.js';

const missing = skipUnlessInstalled(pgbouncerMissing());
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
