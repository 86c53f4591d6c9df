import assert from 'node:assert/strict';
import { eventually } from './database.js';

/**
 * Writes a session again and again without a load receipt (`write`) for most of its absolute
 * lifetime, then waits until it reads as gone (`isAlive`), and asserts that it ended at its
 * absolute time: no write gave it a new lifetime. A write after the end would rightly start a
 * new session (the ended row counts as gone), so the writes stop half a second before it.
 */
export async function assertEndsAtAbsoluteTime(
  absoluteSeconds: number,
  write: (n: number) => Promise<void>,
  isAlive: () => Promise<boolean>,
): Promise<void> {
  const started = performance.now();
  const writesUntil = started + absoluteSeconds * 1000 - 500;
  let writes = 0;
  let lastWriteSentAt = started;
  const writeAgain = async () => {
    lastWriteSentAt = performance.now();
    await write(writes++);
  };
  await writeAgain();
  await eventually(async () => {
    assert.ok(await isAlive(), `alive while written, after ${writes} writes`);
    await writeAgain();
    return performance.now() >= writesUntil;
  }, absoluteSeconds * 1000);
  assert.ok(writes > 2, `written again and again: ${writes} writes`);
  const ended = await eventually(async () => !(await isAlive()), absoluteSeconds * 1000 + 2000);
  const elapsedMs = performance.now() - started;
  assert.ok(ended, 'the session ended');
  // A write that restarted its lifetime would have kept it alive until at least `absoluteSeconds`
  // after the last write was sent: seen gone before that, no write did (however slow the machine).
  const restartedEndMs = lastWriteSentAt - started + absoluteSeconds * 1000;
  assert.ok(
    elapsedMs < restartedEndMs,
    `ended ${Math.round(elapsedMs)} ms after it was created, not before ${Math.round(restartedEndMs)} ms`,
  );
  assert.ok(elapsedMs >= absoluteSeconds * 1000 - 50, `not before its absolute time: ${Math.round(elapsedMs)} ms`);
}

/**
 * Where the adapters' absolute-timeout tests run: every driver (PgBouncer aside: it is `pg`
 * through a pooler, which the behaviour suite covers), and the partitioned layout.
 */
export const ABSOLUTE_TIMEOUT_RUNS: readonly { driverName: string; label: string; options: Record<string, unknown> }[] =
  [
    ...['pg', 'pg-pipeline', 'pg-promise', 'postgres', 'pglite'].map((driverName) => ({
      driverName,
      label: driverName,
      options: {},
    })),
    { driverName: 'pg', label: 'pg, partitioned tables', options: { partitionBy: { days: 1 } } },
  ];
