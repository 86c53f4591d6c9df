import type { PGliteLike } from './pglite.js';
import type { PollConnection } from './polling.js';

interface PGliteQuerying {
  query(text: string, values: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** PGlite's polls: the one in-process instance, whose only connection is never lost. */
export function pglitePollConnection(db: PGliteLike): PollConnection {
  const pglite = db as unknown as PGliteQuerying;
  return {
    query: async (text, values) => (await pglite.query(text, values)).rows,
    reset: async () => {},
  };
}
