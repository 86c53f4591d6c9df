// The ESM entry of connect-pg-simple/hono: the same objects as its CommonJS entry.
import hono from '../dist/adapters/hono.js';

export const { HonoPGStore } = hono;
