import { behaviourSuite } from './support/behaviour.js';
import { pgbouncerTracksPreparedStatements, pgbouncerVersion } from './support/pgbouncer.js';

// Fails (never skips) when pgbouncer is missing: CI installs it.
console.log(`# PgBouncer ${pgbouncerVersion().join('.')}, transaction pooling`);
behaviourSuite('pgbouncer');
if (pgbouncerTracksPreparedStatements()) behaviourSuite('pgbouncer-prepared');
else console.log('# PgBouncer < 1.21 has no max_prepared_statements: the store falls back to unnamed statements');
