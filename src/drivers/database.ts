import type { Statement } from '../sql.js';
import type { Deadline } from '../time-limit.js';

export type Row = Record<string, unknown>;

/** The one interface the store needs from a driver. */
export interface Database {
  /**
   * Runs one statement with positional parameters ($1, $2, …) and resolves with its rows. When
   * the deadline expires, a driver that can cancels the statement (see `Deadline.onExpire`).
   */
  query(statement: Statement, values: readonly unknown[], deadline?: Deadline): Promise<Row[]>;
  /** Ends the connections the store opened itself; never ends a user's pool or client. */
  close(): Promise<void>;
}

/**
 * A session's seconds to live, counted from when the store measured them (`at`, on `clock`, in
 * ms), not from when the statement runs: a driver sends what is left of them once it has a
 * connection (`valuesNow`), so a statement that waited for one does not make the session live
 * that much longer. The database adds what it is sent to its own clock at execution.
 */
export class ElapsingSeconds {
  constructor(
    readonly seconds: number,
    readonly at: number,
    readonly clock: () => number,
  ) {}

  /** The seconds left now. */
  left(): number {
    return this.seconds - Math.max(0, this.clock() - this.at) / 1000;
  }
}

/**
 * The values as the server is to get them now: each `ElapsingSeconds` as what is left of it. The
 * same array when it holds none (drivers only read it).
 */
export function valuesNow(values: readonly unknown[]): unknown[] {
  for (const value of values) {
    if (value instanceof ElapsingSeconds) {
      return values.map((each) => (each instanceof ElapsingSeconds ? each.left() : each));
    }
  }
  return values as unknown[];
}

/** A `query` that resolves either with rows or with a result object holding them, as pg does. */
export function rowsOf(result: unknown): Row[] {
  if (Array.isArray(result)) return result as Row[];
  const rows = (result as { rows?: unknown } | null | undefined)?.rows;
  return Array.isArray(rows) ? (rows as Row[]) : [];
}

/**
 * Named prepared statements fail behind a pooler that does not track them (PgBouncer before
 * 1.21 in transaction mode): the server says the statement does not exist, or exists already.
 * Such a statement did not run, so it is safe to send again unnamed.
 */
function isPreparedStatementMismatch(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '26000' || code === '42P05';
}

/** Told the error that turned named statements off (26000 or 42P05 from the server). */
export type PreparedFallbackListener = (error: unknown) => void;

/** Sends one statement, named (prepared) or not, and resolves with what the driver answered. */
export type RunStatement = (
  statement: Statement,
  values: readonly unknown[],
  named: boolean,
  deadline?: Deadline,
) => Promise<unknown>;

/**
 * The one prepared-statement fallback of every driver adapter: runs statements named while that
 * works, and unnamed from the first sign that named statements do not survive the connection
 * path (the statement that met it is sent again, unnamed). `onFallback` hears of that switch.
 */
export function withPreparedFallback(
  prepare: boolean,
  run: RunStatement,
  onFallback: PreparedFallbackListener = () => {},
): Database['query'] {
  let named = prepare;
  return (statement, values, deadline) => {
    if (!named || statement.name === '') return run(statement, values, false, deadline).then(rowsOf);
    return run(statement, values, true, deadline).then(rowsOf, (error: unknown) => {
      if (!isPreparedStatementMismatch(error) || deadline?.expired !== undefined) throw error;
      if (named) onFallback(error);
      named = false;
      return run(statement, values, false, deadline).then(rowsOf);
    });
  };
}
