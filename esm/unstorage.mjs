// The ESM entry of connect-pg-simple/unstorage: the same objects as its CommonJS entry.
import unstorage from '../dist/adapters/unstorage.js';

export const { postgresDriver } = unstorage;
export default postgresDriver;
