// The ESM entry: the same objects as the CommonJS entry (one copy of the code, one store class).
import connectPgSimple from '../dist/index.js';

export default connectPgSimple;
export const {
  PGStore,
  ConnectionError,
  ConnectTimeoutError,
  CorruptSessionError,
  DecryptionError,
  OperationTimeoutError,
  PGStoreError,
  SchemaError,
  StoreClosedError,
} = connectPgSimple;
