import { derivedName, dollarQuote, quoteIdentifier, quoteLiteral, type TableNames } from '../sql.js';

/** `"schema"."table_prune"`: the name of the table's prune function. */
export function pruneFunctionName(names: TableNames): string {
  const name = quoteIdentifier(derivedName(names.tableName, 'prune'));
  return names.quotedSchema === undefined ? name : `${names.quotedSchema}.${name}`;
}

/**
 * A plain SQL function that deletes expired sessions, `batch` rows per statement, and returns
 * how many it deleted: for pg_cron, or any scheduler that can run SQL. One call is one
 * transaction (the caller's): its row locks are held, and dead rows stay unvacuumable, until
 * it ends. So for a huge backlog, pass `max_batches` and call it repeatedly (each call its own
 * transaction), or use the CLI's `prune`, which commits every batch.
 * `SET search_path FROM CURRENT` makes an unqualified table name mean what it meant when the
 * function was created, whoever calls it.
 */
export function pruneFunctionSql(names: TableNames): string {
  const t = names.qualified;
  const fn = pruneFunctionName(names);
  const body = `DECLARE
  deleted bigint;
  total bigint := 0;
BEGIN
  IF batch IS NULL OR batch < 1 OR max_batches < 1 THEN
    RAISE EXCEPTION 'connect-pg-simple: batch and max_batches must be at least 1, got % and %', batch, max_batches
      USING ERRCODE = '22023';
  END IF;
  FOR batch_number IN 1..coalesce(max_batches, 2147483647) LOOP
    DELETE FROM ${t} WHERE sid IN (
      SELECT sid FROM ${t} WHERE expire < now() ORDER BY expire LIMIT batch FOR UPDATE SKIP LOCKED
    );
    GET DIAGNOSTICS deleted = ROW_COUNT;
    total := total + deleted;
    EXIT WHEN deleted < batch;
  END LOOP;
  RETURN total;
END`;
  const comment = `connect-pg-simple: deletes the expired sessions of ${t}, batch rows per statement (at most max_batches statements), in the caller's transaction; returns how many`;
  return `CREATE OR REPLACE FUNCTION ${fn}(batch integer DEFAULT 1000, max_batches integer DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS ${dollarQuote(body)};

COMMENT ON FUNCTION ${fn}(integer, integer) IS ${quoteLiteral(comment)};
`;
}
