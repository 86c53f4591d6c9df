import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import postgres from 'postgres';
import { PGStore } from '../src/index.js';
import { behaviourSuite } from './support/behaviour.js';
import { databaseUrl, serverAdmin, uniqueName } from './support/database.js';
import {
  type PgBouncer,
  pgbouncerMissing,
  pgbouncerTracksPreparedStatements,
  pgbouncerVersion,
  startPgBouncer,
} from './support/pgbouncer.js';
import { skipUnlessInstalled } from './support/system-tools.js';

const missing = skipUnlessInstalled(pgbouncerMissing());
if (missing) {
  describe('store behaviour through PgBouncer', () => {
    it('runs the behaviour suite through PgBouncer in transaction pooling mode', { skip: missing }, () => {});
  });
} else {
  console.log(`# PgBouncer ${pgbouncerVersion().join('.')}, transaction pooling`);
  behaviourSuite('pgbouncer');
  if (pgbouncerTracksPreparedStatements()) behaviourSuite('pgbouncer-prepared');
  else console.log('# PgBouncer < 1.21 has no max_prepared_statements: the store falls back to unnamed statements');

  describe('named statements lost behind PgBouncer in transaction pooling mode', () => {
    const admin = serverAdmin();
    const schemaName = uniqueName('cps_pgbouncer_said');
    let bouncer: PgBouncer;
    before(async () => {
      // One server connection: a second pool's first named statement meets the first pool's ("already exists").
      bouncer = await startPgBouncer(databaseUrl(), { maxPreparedStatements: 0, poolSize: 1 });
      await admin.query(`CREATE SCHEMA "${schemaName}"`);
    });
    after(async () => {
      await admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
      await admin.close();
      await bouncer.stop();
    });

    it('the switch to unnamed statements is logged once, naming preparedStatements: false', async () => {
      const pools = [1, 2].map(() => new pg.Pool({ connectionString: bouncer.url, max: 2 }));
      const logs: unknown[][][] = [[], []];
      const [first, second] = pools.map(
        (pool, i) =>
          new PGStore({
            pool,
            schemaName,
            createTableIfMissing: true,
            pruneSessionInterval: false,
            errorLog: (...args: unknown[]) => logs[i]!.push(args),
          }),
      );
      try {
        await first!.set('s', { cookie: { maxAge: 60_000 }, n: 1 } as any);
        assert.equal(((await first!.get('s')) as any).n, 1);
        for (let n = 2; n < 6; n++) {
          await second!.set('s', { cookie: { maxAge: 60_000 }, n } as any);
          assert.equal(((await second!.get('s')) as any).n, n, 'every statement still succeeds');
        }
        assert.equal(logs[1]!.length, 1, 'one line');
        const line = String(logs[1]![0]![0]);
        assert.match(line, /prepared statement failed/);
        assert.match(line, /pooler/);
        assert.match(line, /switched to unnamed statements/);
        assert.match(line, /`preparedStatements: false`/);
      } finally {
        await Promise.all([first!.close(), second!.close()]);
        await Promise.all(pools.map((pool) => pool.end()));
      }
    });
  });

  describe('postgres.js through PgBouncer in transaction pooling mode (no prepared statements tracked)', () => {
    const admin = serverAdmin();
    const schemaName = uniqueName('cps_pgbouncer_pjs');
    let bouncer: PgBouncer;
    before(async () => {
      bouncer = await startPgBouncer(databaseUrl(), { maxPreparedStatements: 0 });
      await admin.query(`CREATE SCHEMA "${schemaName}"`);
    });
    after(async () => {
      await admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
      await admin.close();
      await bouncer.stop();
    });

    it('preparedStatements: false is obeyed: concurrent requests on several connections all succeed', async () => {
      // postgres.js names its statements by default, and a pooler may run one on a server that never saw it.
      const sql = postgres(bouncer.url, { max: 4, onnotice: () => {} });
      const store = new PGStore({
        postgres: sql,
        preparedStatements: false,
        schemaName,
        createTableIfMissing: true,
        pruneSessionInterval: false,
        operationTimeout: 5000, // a statement lost between server connections fails instead of hanging the test
      });
      const failures: string[] = [];
      try {
        await Promise.all(
          Array.from({ length: 8 }, async (_, worker) => {
            for (let i = 0; i < 10; i++) {
              const sid = `w${worker}-${i}`;
              try {
                await store.set(sid, { cookie: { maxAge: 60_000 }, worker, i } as any);
                const read = (await store.get(sid)) as any;
                if (read?.worker !== worker || read?.i !== i) failures.push(`${sid} read back ${JSON.stringify(read)}`);
              } catch (error) {
                failures.push(`${sid}: ${(error as Error).message}`);
              }
            }
          }),
        );
      } finally {
        await store.close();
        await sql.end({ timeout: 1 });
      }
      assert.deepEqual(failures, [], 'every request through the pooler');
    });
  });
}
