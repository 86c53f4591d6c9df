import { performance } from 'node:perf_hooks';
import type pg from 'pg';

/**
 * A pg pool as the store sees it (it has `connect`, so the store sends named statements) that
 * times each statement: `timed(text, ms)` once it has answered.
 */
export function timedPool(pool: pg.Pool, timed: (text: string, ms: number) => void) {
  return {
    connect: pool.connect.bind(pool),
    query(config: string | pg.QueryConfig, values?: unknown[]) {
      const text = typeof config === 'string' ? config : config.text;
      const t0 = performance.now();
      return pool.query(config as pg.QueryConfig, values).then((result) => {
        timed(text, performance.now() - t0);
        return result;
      });
    },
  };
}
