// The ESM entry of connect-pg-simple/koa: the same objects as its CommonJS entry.
import koa from '../dist/adapters/koa.js';

export const {
  KoaPGStore,
  ConnectionError,
  ConnectTimeoutError,
  CorruptSessionError,
  DecryptionError,
  OperationTimeoutError,
  PGStoreError,
  SchemaError,
  StoreClosedError,
} = koa;
