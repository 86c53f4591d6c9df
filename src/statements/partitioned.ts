import { pruneBatchStatement, type StoreStatements, statement, type TableNames } from '../sql.js';
import { currentFragments, currentStatements, type ModeSettings } from './current.js';

/**
 * The partitioned mode: a table of the current schema, of the store's own id form, in the opt-in
 * partitioned layout (see schema/partitions.ts). The current mode's statements, but for three:
 * - no index keeps `sid` unique across partitions: a new session's write deletes any row of its
 *   id and inserts, in one statement, and `get` reads the newest row of an id;
 * - prune deletes rows of the DEFAULT partition only (a ctid is a row's address in one
 *   partition); the others are dropped whole.
 * The absolute timeout is always set here (table-setup.ts): never longer than the partitions keep
 * sessions, and what lets a statement skip the partitions of dead sessions.
 */
export function partitionedStatements(names: TableNames, settings: ModeSettings): StoreStatements {
  const t = names.qualified;
  const { alive, endsAt, expiryIn, commitWait } = currentFragments(settings);
  const created = 'coalesce((SELECT min(created) FROM replaced), now())';
  return {
    ...currentStatements(names, settings),
    get: statement(
      'get',
      `SELECT sess::text AS sess, date_part('epoch', ${endsAt} - now()) AS remaining, user_id FROM ${t} WHERE sid = $1::text AND ${alive()} ORDER BY created DESC LIMIT 1`,
      true,
    ),
    // A live row's creation time moves to the new row: only a new session id starts a new lifetime.
    upsert: statement(
      'upsert',
      `WITH replaced AS (DELETE FROM ${t} WHERE sid = $1::text RETURNING CASE WHEN ${alive()} THEN created END AS created)
INSERT INTO ${t} (sid, sess, expire, created, touched, user_id, details)
SELECT $1::text, $2::text::json, ${expiryIn('$3', created)}, ${created}, now(), $4::text, $5::text::json FROM ${commitWait}`,
      true,
    ),
    pruneBatch: pruneBatchStatement(names.defaultPartition),
  };
}
