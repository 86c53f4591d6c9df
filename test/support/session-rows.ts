import type { Row } from './database.js';
import { storedId } from './sessions.js';

/**
 * The rows of one session table, read outside the store: what a test checks the adapters wrote.
 * `of(sid)` finds a session by the id its cookie carries (the table stores its hash, by default; `idOf`
 * says otherwise, as for unstorage, whose keys are stored as given).
 */
export function sessionRows(
  query: (text: string, values?: unknown[]) => Promise<Row[]>,
  table: string,
  idOf: (sid: string) => string = storedId,
) {
  return {
    count: async (): Promise<number> => Number((await query(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n),
    of: async (sid: string): Promise<{ sess: any; xmin: string; left: number } | undefined> =>
      (
        await query(
          `SELECT sess, xmin::text AS xmin, extract(epoch FROM expire - now())::float8 AS left FROM ${table} WHERE sid = $1`,
          [idOf(sid)],
        )
      )[0] as any,
    expireAll: async (): Promise<void> => {
      await query(`UPDATE ${table} SET expire = now() - interval '1 second'`);
    },
  };
}

export type SessionRows = ReturnType<typeof sessionRows>;
