import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromPgPool } from '../src/drivers/pg.js';
import { PGStore } from '../src/index.js';
import { createPartitionStatement, ONE_DAY_SECONDS } from '../src/schema/partitions.js';
import { readTableStats } from '../src/schema/stats.js';
import { tableNames } from '../src/sql.js';
import { useTestSchema } from './support/apps.js';
import { runCli as cli } from './support/cli.js';
import { uniqueName } from './support/database.js';
import { inSeconds, pastTheCacheBound, storedId } from './support/sessions.js';

const HOUR = 3600;
const PARTITIONED = { partitionBy: { days: 1 }, absoluteTimeout: HOUR } as const;
describe('the partitioned layout', () => {
  const schema = useTestSchema('cps_partitioned');
  const q = async (text: string, values?: unknown[]) => (await schema.pool.query(text, values)).rows;
  const logged: string[] = [];
  const newStore = (tableName: string, options: Record<string, unknown> = {}) => {
    const store = new PGStore({
      ...schema.storeOptions(tableName),
      errorLog: (...args: unknown[]) => logged.push(args.map(String).join(' ')),
      ...options,
    } as never);
    schema.onClose(() => store.close());
    return store;
  };
  const names = (table: string) => tableNames(table, schema.schemaName);
  const qualified = (table: string) => names(table).qualified;
  /** The table's partitions: name, and range (null for DEFAULT), oldest first. */
  const partitionsOf = async (table: string) =>
    q(
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 2`,
      [qualified(table)],
    );
  /** Seconds since the epoch at the start of today (UTC), by the database's clock. */
  const todayStart = async () =>
    Number((await q(`SELECT extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'UTC'))::float8 AS t`))[0].t);
  /** A partition `daysAgo` days before today's, with `rows` sessions created in it. */
  const oldPartition = async (table: string, daysAgo: number, rows: number) => {
    const from = (await todayStart()) - daysAgo * ONE_DAY_SECONDS;
    await q(createPartitionStatement(names(table), { from, to: from + ONE_DAY_SECONDS }));
    await q(
      `INSERT INTO ${qualified(table)} (sid, sess, expire, created)
       SELECT 'old' || $1::int || '-' || g, '{"cookie":{}}', to_timestamp($2::float8) + interval '1 hour', to_timestamp($2::float8) + g * interval '1 second'
       FROM generate_series(1, $3::int) AS g`,
      [daysAgo, from, rows],
    );
  };

  it('refuses partitionBy without absoluteTimeout, or malformed, naming it', () => {
    assert.throws(
      () => new PGStore({ pool: schema.pool, partitionBy: { days: 1 } } as never),
      (error: Error) =>
        error instanceof TypeError &&
        /"partitionBy" needs "absoluteTimeout"/.test(error.message) &&
        /dropped/.test(error.message),
    );
    for (const bad of [{ days: 0 }, { days: 1.5 }, { days: '1' }, { hours: 1 }, { days: 1, weeks: 2 }, 7, null, []]) {
      assert.throws(
        () => new PGStore({ pool: schema.pool, absoluteTimeout: HOUR, partitionBy: bad } as never),
        (error: Error) => error instanceof TypeError && /option "partitionBy" must be/.test(error.message),
        JSON.stringify(bad),
      );
    }
  });

  it("creates the table partitioned: the plain table's columns, key (sid, created), a DEFAULT partition and the days ahead", async () => {
    const plain = newStore('plain_layout');
    const partitioned = newStore('made_partitioned', PARTITIONED);
    await Promise.all([plain.length(), partitioned.length()]);
    const columns = async (table: string) =>
      q(
        `SELECT column_name, data_type, collation_name, column_default, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [schema.schemaName, table],
      );
    assert.deepEqual(await columns('made_partitioned'), await columns('plain_layout'));
    const [table] = await q(
      `SELECT c.relkind::text AS kind, pg_get_constraintdef(k.oid) AS key, col_description(c.oid, 4) AS created_comment
       FROM pg_class c JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p' WHERE c.oid = $1::regclass`,
      [qualified('made_partitioned')],
    );
    assert.equal(table.kind, 'p');
    assert.equal(table.key, 'PRIMARY KEY (sid, created)');
    assert.equal(
      table.created_comment,
      'connect-pg-simple partitions: 86400 s each, sessions end 3600 s after creation',
    );
    const partitions = await partitionsOf('made_partitioned');
    assert.equal(partitions.length, 5, 'DEFAULT, today and three days ahead');
    assert.ok(partitions.some((p) => p.bound === 'DEFAULT'));
    const [today] = await q(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD') AS d`);
    assert.ok(partitions.some((p) => p.name === `made_partitioned_p${today.d}`));
    await partitioned.set('s', inSeconds(60) as never);
    const [row] = await q(`SELECT tableoid::regclass::text AS part FROM ${qualified('made_partitioned')}`);
    assert.match(row.part, new RegExp(`made_partitioned_p${today.d}$`), "a new session lands in today's partition");
  });

  it('is found from the catalog by a store configured otherwise, which holds sessions to the table lifetime', async () => {
    await newStore('found', PARTITIONED).length();
    const plain = newStore('found');
    await plain.set('a', inSeconds(7200) as never);
    assert.ok(await plain.get('a'), 'a store without partitionBy reads and writes the partitioned table');
    await q(`UPDATE ${qualified('found')} SET created = now() - interval '61 minutes' WHERE sid = $1`, [storedId('a')]);
    await pastTheCacheBound();
    assert.equal(await plain.get('a'), null, 'past the lifetime the table records, though its expiry is later');
    logged.length = 0;
    const longer = newStore('found', { absoluteTimeout: 2 * HOUR });
    await longer.length();
    await longer.length();
    assert.equal(logged.filter((line) => /absoluteTimeout of 7200 s is cut to that/.test(line)).length, 1);
    const onPlainTable = newStore('plain_found');
    await onPlainTable.length();
    logged.length = 0;
    await newStore('plain_found', PARTITIONED).length();
    assert.ok(logged.some((line) => /already exists and is not partitioned/.test(line)));
  });

  it("a new session's write replaces the row of its id in whatever partition it is", async () => {
    const store = newStore('replaced', PARTITIONED);
    await store.set('r', { ...inSeconds(600), n: 1 } as never);
    // Moved to another partition (the DEFAULT one: none covers two days ago), as if created then.
    await q(`UPDATE ${qualified('replaced')} SET created = now() - interval '2 days' WHERE sid = $1`, [storedId('r')]);
    await store.set('r', { ...inSeconds(600), n: 2 } as never);
    const rows = await q(
      `SELECT sess->>'n' AS n, created > now() - interval '1 minute' AS fresh FROM ${qualified('replaced')}`,
    );
    assert.deepEqual(rows, [{ n: '2', fresh: true }]);
    assert.equal(((await store.get('r')) as unknown as { n: number }).n, 2);
  });

  it('reads the newest row when two rows share an id (no index keeps sid unique), writes it, and destroys them all', async () => {
    const store = newStore('twins', PARTITIONED);
    await store.set('t', { ...inSeconds(600), n: 1 } as never);
    await q(
      `INSERT INTO ${qualified('twins')} (sid, sess, expire, created) SELECT sid, '{"cookie":{},"n":0}', expire, created - interval '1 minute' FROM ${qualified('twins')}`,
    );
    const loaded = (await store.get('t')) as unknown as { n: number };
    assert.equal(loaded.n, 1, 'the newest');
    loaded.n = 3;
    await store.set('t', loaded as never);
    assert.equal(((await store.get('t')) as unknown as { n: number }).n, 3, 'the write went to the row read');
    await store.destroy('t');
    assert.equal((await q(`SELECT count(*)::int AS n FROM ${qualified('twins')}`))[0].n, 0);
  });

  it('refuses a partitioned table whose created column does not say how it is cut', async () => {
    const t = qualified('unsaid');
    await newStore('unsaid', PARTITIONED).length();
    await q(`COMMENT ON COLUMN ${t}."created" IS NULL`);
    await assert.rejects(
      () => newStore('unsaid').get('x'),
      (error: Error & { code?: string }) =>
        error.code === '55000' && /is partitioned, but its "created" column's comment/.test(error.message),
    );
  });

  it('prune drops the partitions of dead sessions while stores keep working, creates the next ones, and deletes the DEFAULT partition’s expired rows', async () => {
    const table = 'pruned';
    const t = qualified(table);
    const app = newStore(table, PARTITIONED);
    const pruner = newStore(table, PARTITIONED);
    await app.length();
    await oldPartition(table, 3, 50);
    await oldPartition(table, 2, 40);
    // Rows no partition covers: in the DEFAULT partition, 7 of them expired.
    await q(
      `INSERT INTO ${t} (sid, sess, expire, created) SELECT 'stray' || g, '{"cookie":{}}', now() - interval '1 minute', now() - interval '1 year' FROM generate_series(1, 7) AS g`,
    );
    const lastAhead = (await partitionsOf(table)).at(-1)!.name;
    await q(`DROP TABLE "${schema.schemaName}"."${lastAhead}"`);
    await q(`ANALYZE ${t}`);
    for (let i = 0; i < 20; i++) await app.set(`live${i}`, { ...inSeconds(600), i } as never);

    let pruning = true;
    let served = 0;
    const load = (async () => {
      const failures: unknown[] = [];
      while (pruning || served < 50) {
        const i = served % 20;
        try {
          const got = (await app.get(`live${i}`)) as { i: number } | null;
          if (got?.i !== i) failures.push(`live${i} read as ${JSON.stringify(got)}`);
          await app.set(`new${served}`, inSeconds(600) as never);
        } catch (error) {
          failures.push(error);
        }
        served += 1;
      }
      return failures;
    })();
    const pruned = await pruner.pruneSessions();
    pruning = false;
    assert.deepEqual(await load, [], 'every get and set while the partitions were dropped');

    assert.equal(
      pruned,
      50 + 40 + 7,
      "the dropped partitions' rows (as ANALYZE counted them) and the DEFAULT partition's",
    );
    const after = (await partitionsOf(table)).map((p) => p.name);
    assert.equal(after.length, 5, 'DEFAULT, today and three ahead: the two old ones gone, the missing one back');
    assert.ok(after.includes(lastAhead));
    assert.equal((await q(`SELECT count(*)::int AS n FROM ${t} WHERE sid LIKE 'old%' OR sid LIKE 'stray%'`))[0].n, 0);
    assert.equal(await app.length(), 20 + served);
    assert.equal(await pruner.pruneSessions(), 0, 'nothing left to do');
  });

  it('a range the DEFAULT partition already holds rows of gets no partition, and its rows are pruned by DELETE', async () => {
    const table = 'fallback';
    const store = newStore(table, PARTITIONED);
    await store.length();
    const [today] = await q(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD') AS d`);
    await q(`DROP TABLE "${schema.schemaName}"."${table}_p${today.d}"`);
    await store.set('into-default', inSeconds(600) as never);
    await store.set('dead', { cookie: { expires: new Date(Date.now() - 1000).toISOString() } } as never);
    const [row] = await q(`SELECT tableoid::regclass::text AS part FROM ${qualified(table)} WHERE sid = $1`, [
      storedId('into-default'),
    ]);
    assert.match(row.part, /fallback_default"?$/);
    assert.equal(await store.pruneSessions(), 1, 'the expired row of the DEFAULT partition; the prune does not fail');
    assert.ok(await store.get('into-default'));
    assert.ok(!(await partitionsOf(table)).some((p) => p.name === `${table}_p${today.d}`));
  });

  it('CLI: schema and migrate make the table; stats shows the layout and partitions, in text and --json; prune drops', async () => {
    const base = ['--schema', schema.schemaName, '--table'];
    const printed = await cli(['schema', ...base, 'by_cli', '--partition-days', '1', '--absolute-timeout', '3600']);
    assert.equal(printed.code, 0);
    assert.match(printed.stdout, /PRIMARY KEY \("sid", "created"\)\n\s*\) PARTITION BY RANGE \("created"\);/);
    assert.match(printed.stdout, /PARTITION OF "[^"]+"\."by_cli" DEFAULT/);
    const withoutTimeout = await cli(['schema', ...base, 'by_cli', '--partition-days', '1']);
    assert.notEqual(withoutTimeout.code, 0);
    assert.match(withoutTimeout.stderr, /--partition-days needs --absolute-timeout/);
    const withoutDays = await cli(['schema', ...base, 'by_cli', '--absolute-timeout', '3600']);
    assert.equal(withoutDays.code, 2);
    assert.match(withoutDays.stderr, /--absolute-timeout goes with --partition-days/);

    const made = await cli(['migrate', ...base, 'by_cli', '--partition-days', '1', '--absolute-timeout', '3600']);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /created .*by_cli/);
    await newStore('by_cli').set('s', inSeconds(600) as never);
    await oldPartition('by_cli', 5, 30);
    await q(`ANALYZE ${qualified('by_cli')}`);

    const text = await cli(['stats', ...base, 'by_cli']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /layout +partitioned by creation time, 24 h per partition; sessions end 60 min after creation/,
    );
    assert.match(text.stdout, /partitions \(6; rows as the planner estimates them\):/);
    assert.match(text.stdout, /by_cli_default +DEFAULT/);
    assert.match(text.stdout, /by_cli_p\d{8} .* ~30 rows .* droppable/);
    assert.match(text.stdout, /sessions +1 live, 30 expired/);
    const json = JSON.parse((await cli(['stats', ...base, 'by_cli', '--json'])).stdout);
    assert.equal(json.layout, 'partitioned');
    assert.deepEqual(json.partitioning, { widthSeconds: ONE_DAY_SECONDS, lifetimeSeconds: HOUR });
    assert.equal(json.countsEstimated, false);
    const droppable = json.partitions.filter((p: { droppable: boolean }) => p.droppable);
    assert.equal(droppable.length, 1);
    assert.equal(droppable[0].rowEstimate, 30);
    assert.match(droppable[0].from, /T00:00:00.000Z$/);

    const pruned = JSON.parse((await cli(['prune', ...base, 'by_cli', '--json'])).stdout);
    assert.deepEqual(pruned.droppedPartitions, [droppable[0].name]);
    assert.equal(pruned.droppedRowEstimate, 30);
    assert.equal(pruned.deleted, 0);

    await newStore('plain_for_cli').length();
    const refused = await cli([
      'migrate',
      ...base,
      'plain_for_cli',
      '--partition-days',
      '1',
      '--absolute-timeout',
      '3600',
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /exists and is not partitioned/);
    const plainStats = JSON.parse((await cli(['stats', ...base, 'plain_for_cli', '--json'])).stdout);
    assert.equal(plainStats.layout, 'plain');
    assert.equal(plainStats.partitions, undefined);
  });

  it('stats estimates the counts from the planner above the limit, and counts them when asked', async () => {
    const table = uniqueName('estimated');
    const store = newStore(table, PARTITIONED);
    await store.length();
    await q(
      `INSERT INTO ${qualified(table)} (sid, sess, expire) SELECT 'e' || g, '{}', now() + CASE WHEN g % 4 = 0 THEN interval '-1 minute' ELSE interval '30 minutes' END FROM generate_series(1, 2000) AS g`,
    );
    await q(`ANALYZE ${qualified(table)}`);
    const db = fromPgPool(schema.pool, { prepare: false, graceMs: 0 });
    const estimated = await readTableStats(db, names(table), { countLimit: 100 });
    assert.equal(estimated?.countsEstimated, true);
    assert.ok(Math.abs(estimated!.liveSessions - 1500) < 150, `about 1500 live: ${estimated!.liveSessions}`);
    assert.ok(Math.abs(estimated!.expiredSessions - 500) < 150, `about 500 expired: ${estimated!.expiredSessions}`);
    const exact = await readTableStats(db, names(table), { countLimit: 100, exact: true });
    assert.equal(exact?.countsEstimated, false);
    assert.equal(exact?.liveSessions, 1500);
    assert.equal(exact?.expiredSessions, 500);
  });

  it('migrates a partitioned table of schema 2 to the current version, partitions and all', async () => {
    const t = qualified('older');
    const n = names('older');
    await q(`CREATE TABLE ${t} ("sid" text COLLATE "C" NOT NULL, "sess" json NOT NULL, "expire" timestamptz(6) NOT NULL,
      "created" timestamptz(6) NOT NULL DEFAULT now(), CONSTRAINT ${n.primaryKey} PRIMARY KEY ("sid", "created")) PARTITION BY RANGE ("created")`);
    await q(`CREATE INDEX ${n.expireIndex} ON ${t} ("expire")`);
    await q(`COMMENT ON COLUMN ${t}."sid" IS 'connect-pg-simple session ids: sha256'`);
    await q(
      `COMMENT ON COLUMN ${t}."created" IS 'connect-pg-simple partitions: 86400 s each, sessions end 3600 s after creation'`,
    );
    await q(`CREATE TABLE ${n.defaultPartition} PARTITION OF ${t} DEFAULT`);
    await oldPartition('older', 0, 3);
    await q(`COMMENT ON TABLE ${t} IS 'connect-pg-simple schema 2'`);
    const migrated = await cli(['migrate', '--schema', schema.schemaName, '--table', 'older']);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /from schema version 2 to 4/);
    const store = newStore('older');
    await store.set('after', { ...inSeconds(600), userId: 'u1' } as never);
    assert.equal((await store.userSessions('u1')).length, 1);
    assert.equal((await q(`SELECT count(*)::int AS n FROM ${t} WHERE touched IS NOT NULL`))[0].n, 4);
  });

  it('rekey moves a partitioned table to peppered ids: every session found by its cookie, with its user', async () => {
    const pepper = 'the pepper of the partitioned re-keying';
    const before = newStore('rekeyed', PARTITIONED);
    const sids = Array.from({ length: 12 }, (_, i) => `partitioned-session-${i}`);
    for (const sid of sids) await before.set(sid, { ...inSeconds(600), userId: 'u1', n: sid } as never);
    const run = await cli(['rekey', '--batch-size', '5', '--schema', schema.schemaName, '--table', 'rekeyed'], {
      CPS_SESSION_ID_PEPPER: pepper,
    });
    assert.equal(run.code, 0, run.stderr);
    const after = newStore('rekeyed', { ...PARTITIONED, sessionIdPepper: pepper });
    for (const sid of sids) assert.equal(((await after.get(sid)) as { n?: string } | null)?.n, sid, sid);
    assert.equal((await after.userSessions('u1')).length, sids.length);
    const stored = await q(`SELECT sid FROM ${qualified('rekeyed')}`);
    assert.equal(stored.length, sids.length, 'one row per session: none left behind in the old form');
    for (const { sid } of stored) assert.ok(!sids.map(storedId).includes(sid), 'no row keeps its SHA-256 id');
  });

  it("CLI: sessions and revoke hold a user's sessions to the table lifetime, as its stores do", async () => {
    const store = newStore('cli_users', PARTITIONED);
    await store.set('fresh', { ...inSeconds(7200), userId: 'u9' } as never);
    await store.set('past', { ...inSeconds(7200), userId: 'u9' } as never);
    // Created longer ago than the table's lifetime, though its idle expiry is later: dead.
    await q(`UPDATE ${qualified('cli_users')} SET created = now() - interval '61 minutes' WHERE sid = $1`, [
      storedId('past'),
    ]);
    const target = ['--schema', schema.schemaName, '--table', 'cli_users'];
    const listed = await cli(['sessions', '--user', 'u9', '--json', ...target]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      JSON.parse(listed.stdout).map((s: { handle: string }) => s.handle),
      [store.sessionHandle('fresh')],
    );
    const revoked = await cli(['revoke', '--user', 'u9', '--json', ...target]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(JSON.parse(revoked.stdout).revoked, 1, 'the live one: the dead one is not counted');
  });
});
