import pg from 'pg';

/**
 * Statements sent by every `pg` client of this process. The cycle's contenders take turns, so
 * the count over one turn is that contender's: how many statements a request cycle costs.
 */
let sent = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  sent += 1;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

export const statementsSent = (): number => sent;
