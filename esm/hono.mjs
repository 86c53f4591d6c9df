// The ESM entry of connect-pg-simple/hono: the same objects as its CommonJS entry.
import hono from '../dist/adapters/hono.js';

export const {
  HonoPGStore,
  ConnectionError,
  ConnectTimeoutError,
  CorruptSessionError,
  DecryptionError,
  OperationTimeoutError,
  PGStoreError,
  SchemaError,
  StoreClosedError,
} = hono;
