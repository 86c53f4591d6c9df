import { behaviourSuite } from './support/behaviour.js';

behaviourSuite('pg-promise', 'partitioned');
