export {
  ConnectionError,
  ConnectTimeoutError,
  CorruptSessionError,
  DecryptionError,
  HonoPGStore,
  type MistakeCode,
  type MistakeError,
  OperationTimeoutError,
  PGStoreError,
  type PGStoreOptions,
  SchemaError,
  StoreClosedError,
} from '../dist/adapters/hono.js';
