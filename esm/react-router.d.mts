export {
  createPostgresSessionStorage,
  type PGStoreOptions,
  type PostgresSessionStorage,
  type PostgresSessionStorageOptions,
} from '../dist/adapters/react-router.js';
