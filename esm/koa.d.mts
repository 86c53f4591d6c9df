export {
  KoaPGStore,
  type KoaSessionData,
  type KoaStoreCallOptions,
  type PGStoreOptions,
} from '../dist/adapters/koa.js';
