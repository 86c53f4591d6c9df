import { behaviourSuite } from './support/behaviour.js';

behaviourSuite('pglite', 'partitioned');
