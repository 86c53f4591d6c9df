import { behaviourSuite } from './support/behaviour.js';

behaviourSuite('pg-pipeline', 'partitioned');
