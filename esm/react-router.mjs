// The ESM entry of connect-pg-simple/react-router: the same objects as its CommonJS entry.
import reactRouter from '../dist/adapters/react-router.js';

export const {
  createPostgresSessionStorage,
  ConnectionError,
  ConnectTimeoutError,
  CorruptSessionError,
  DecryptionError,
  OperationTimeoutError,
  PGStoreError,
  SchemaError,
  StoreClosedError,
} = reactRouter;
