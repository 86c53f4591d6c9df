import { postgresDriver } from '../dist/adapters/unstorage.js';

export { type PGStoreOptions, type PostgresDriver, postgresDriver } from '../dist/adapters/unstorage.js';
export default postgresDriver;
