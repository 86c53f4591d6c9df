import { postgresDriver } from '../dist/adapters/unstorage.js';

export { type PGStoreOptions, type PostgresDriver, postgresDriver } from '../dist/adapters/unstorage.js';
export default postgresDriver;
export {
  ConnectionError,
  ConnectTimeoutError,
  CorruptSessionError,
  DecryptionError,
  type MistakeCode,
  type MistakeError,
  OperationTimeoutError,
  PGStoreError,
  SchemaError,
  StoreClosedError,
} from '../dist/adapters/unstorage.js';
