import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type RunStatement, withPreparedFallback } from '../src/drivers/database.js';
import type { Deadline } from '../src/time-limit.js';

const prepared = { name: 'cps_get_1', text: 'SELECT 1' };
const once = { name: '', text: 'SELECT 2' };
const mismatch = (code: string) => Object.assign(new Error('prepared statement "cps_get_1" does not exist'), { code });

/** A driver that refuses named statements with `code` (as PgBouncer before 1.21 does), and records what it was sent. */
function driver(code: string | undefined) {
  const sent: string[] = [];
  const run: RunStatement = async (statement, _values, named) => {
    sent.push(named ? `named ${statement.name}` : `unnamed ${statement.text}`);
    if (named && code !== undefined) throw mismatch(code);
    return { rows: [{ text: statement.text }] };
  };
  return { sent, run };
}

describe('the prepared-statement fallback, without a database', () => {
  it('sends named statements while they work, and a statement without a name unnamed', async () => {
    const { sent, run } = driver(undefined);
    const query = withPreparedFallback(true, run);
    assert.deepEqual(await query(prepared, []), [{ text: 'SELECT 1' }]);
    await query(once, []);
    await query(prepared, []);
    assert.deepEqual(sent, ['named cps_get_1', 'unnamed SELECT 2', 'named cps_get_1']);
  });

  for (const code of ['26000', '42P05']) {
    it(`on ${code} sends the statement again unnamed, and every statement unnamed from then on`, async () => {
      const { sent, run } = driver(code);
      const query = withPreparedFallback(true, run);
      assert.deepEqual(await query(prepared, []), [{ text: 'SELECT 1' }]);
      await query(prepared, []);
      assert.deepEqual(sent, ['named cps_get_1', 'unnamed SELECT 1', 'unnamed SELECT 1']);
    });
  }

  it('never names a statement with prepare false', async () => {
    const { sent, run } = driver('26000');
    await withPreparedFallback(false, run)(prepared, []);
    assert.deepEqual(sent, ['unnamed SELECT 1']);
  });

  it('passes on any other error, and does not send again once the deadline has expired', async () => {
    const failing: RunStatement = async () => {
      throw Object.assign(new Error('duplicate key'), { code: '23505' });
    };
    await assert.rejects(withPreparedFallback(true, failing)(prepared, []), { code: '23505' });
    const { sent, run } = driver('26000');
    const expired = { expired: new Error('late'), onExpire: undefined } as unknown as Deadline;
    await assert.rejects(withPreparedFallback(true, run)(prepared, [], expired), { code: '26000' });
    assert.deepEqual(sent, ['named cps_get_1']);
  });
});
