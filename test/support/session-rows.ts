import type { Row } from './database.js';

/** The rows of one session table, read outside the store: what a test checks the adapters wrote. */
export function sessionRows(query: (text: string, values?: unknown[]) => Promise<Row[]>, table: string) {
  return {
    count: async (): Promise<number> => Number((await query(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n),
    of: async (sid: string): Promise<{ sess: any; xmin: string; left: number } | undefined> =>
      (
        await query(
          `SELECT sess, xmin::text AS xmin, extract(epoch FROM expire - now())::float8 AS left FROM ${table} WHERE sid = $1`,
          [sid],
        )
      )[0] as any,
    expireAll: async (): Promise<void> => {
      await query(`UPDATE ${table} SET expire = now() - interval '1 second'`);
    },
  };
}
