import { behaviourSuite } from './support/behaviour.js';

behaviourSuite('postgres', 'partitioned');
