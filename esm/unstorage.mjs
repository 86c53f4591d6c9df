// The ESM entry of connect-pg-simple/unstorage: the same objects as its CommonJS entry.
import unstorage from '../dist/adapters/unstorage.js';

export const {
  postgresDriver,
  ConnectionError,
  ConnectTimeoutError,
  CorruptSessionError,
  DecryptionError,
  OperationTimeoutError,
  PGStoreError,
  SchemaError,
  StoreClosedError,
} = unstorage;
export default postgresDriver;
