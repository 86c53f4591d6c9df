import { ID_FORM_MARK, idFormComment, type Rekeying, rekeyingForm } from '../session-id.js';
import {
  doBlock,
  quoteLiteral,
  REKEYED_COLUMN,
  SCHEMA_LOCK_NAMESPACE,
  sidCommentSql,
  type TableNames,
} from '../sql.js';
import { idFormStatement } from './ddl.js';

/**
 * The two schema steps of re-keying a table to `hmac-sha256` ids (the rows move in between, in
 * batches, from the CLI: the pepper never enters SQL). Each is one DO block under the schema lock,
 * and checks that the `sid` column still records what the step was planned for.
 */

function lockedStep(names: TableNames, expectedComment: string, body: string, lockTimeoutSeconds?: number): string {
  const table = quoteLiteral(names.qualified);
  // Set before the lock is taken: waiting for an advisory lock honours lock_timeout too.
  const lockTimeout =
    lockTimeoutSeconds === undefined
      ? ''
      : `PERFORM set_config('lock_timeout', ${quoteLiteral(`${Math.max(1, Math.round(lockTimeoutSeconds * 1000))}ms`)}, true);\n  `;
  return doBlock(`  ${lockTimeout}PERFORM pg_advisory_xact_lock(${SCHEMA_LOCK_NAMESPACE}, hashtext(${table}));
  IF ${sidCommentSql(names)} IS DISTINCT FROM ${quoteLiteral(expectedComment)} THEN
    RAISE EXCEPTION 'connect-pg-simple: table % changed its session id form meanwhile: run rekey again', ${table} USING ERRCODE = '40001';
  END IF;
${body}`);
}

/**
 * Marks the table as re-keying: adds the column that tells the rows still to move (null on every
 * row there now; true, its default, on every row written from now on) and records the transitional
 * form, in one transaction. ADD COLUMN's lock waits for the writes in flight, so every write after
 * it sees the new form (stores with the pepper then write hmac-sha256 ids) and the new default.
 */
export function beginRekeyStatement(names: TableNames, rekeying: Rekeying, lockTimeoutSeconds?: number): string {
  const t = names.qualified;
  return lockedStep(
    names,
    idFormComment(rekeying.from),
    `  ALTER TABLE ${t} ADD COLUMN ${REKEYED_COLUMN} boolean;
  ALTER TABLE ${t} ALTER COLUMN ${REKEYED_COLUMN} SET DEFAULT true;
  COMMENT ON COLUMN ${t}."sid" IS ${quoteLiteral(rekeyingComment(rekeying))};`,
    lockTimeoutSeconds,
  );
}

/** Records `hmac-sha256` once no row is left to move, and drops the helper column. */
export function finishRekeyStatement(names: TableNames, rekeying: Rekeying, lockTimeoutSeconds?: number): string {
  const t = names.qualified;
  return lockedStep(
    names,
    rekeyingComment(rekeying),
    `  IF EXISTS (SELECT FROM ${t} WHERE ${REKEYED_COLUMN} IS NULL) THEN
    RAISE EXCEPTION 'connect-pg-simple: table % still has sessions to re-key: run rekey again', ${quoteLiteral(t)} USING ERRCODE = '55000';
  END IF;
  ALTER TABLE ${t} DROP COLUMN ${REKEYED_COLUMN};
  ${idFormStatement(names, 'hmac-sha256', rekeying.pepperId)};`,
    lockTimeoutSeconds,
  );
}

/** The whole `sid` column comment of a re-keying table. */
export function rekeyingComment(rekeying: Rekeying): string {
  return `${ID_FORM_MARK}${rekeyingForm(rekeying)}`;
}
