export { HonoPGStore, type PGStoreOptions } from '../dist/adapters/hono.js';
