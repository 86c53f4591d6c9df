import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { secretsOf } from '../src/cli/connection.js';
import { redact } from '../src/cli/errors.js';
import { main } from '../src/cli/main.js';
import { PGStore } from '../src/index.js';
import { tableSqlScript } from '../src/schema/ddl.js';
import { tableNames } from '../src/sql.js';
import { assertCliFailure, type CliRun, runCli as cli, cliEnv } from './support/cli.js';
import { type Admin, databaseUrl, serverAdmin, uniqueName } from './support/database.js';
import { legacyTableSql } from './support/legacy.js';
import { silentServer } from './support/servers.js';
import { pastTheCacheBound } from './support/sessions.js';

const root = resolve(__dirname, '..');
const built = resolve(root, 'dist/cli/main.js');
const bin = resolve(root, 'bin/connect-pg-simple.js');
const { version } = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));

type Run = CliRun;

/** Runs a script of the CLI as a child process, as a shell would: for exit codes and the environment. */
function child(script: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [script, ...args],
      {
        env: cliEnv(env),
        cwd: root,
      },
      (error, stdout, stderr) => done({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

describe('the connect-pg-simple command', () => {
  let admin: Admin;
  let schemaName: string;
  const table = (name: string) => `"${schemaName}"."${name}"`;
  const target = (name: string) => ['--schema', schemaName, '--table', name];

  before(async () => {
    assert.ok(existsSync(built), 'dist/cli/main.js is missing: run `npm run build` first (npm test does)');
    admin = serverAdmin();
    schemaName = uniqueName('cps_cli');
    await admin.query(`CREATE SCHEMA "${schemaName}"`);
  });
  after(async () => {
    await admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await admin.close();
  });

  it('prints its version, through the bin script and the built file too', async () => {
    assert.deepEqual(await cli(['--version']), { code: 0, stdout: `${version}\n`, stderr: '' });
    assert.deepEqual(await child(bin, ['-V']), { code: 0, stdout: `${version}\n`, stderr: '' });
    assert.deepEqual(await child(built, ['--version']), { code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('sets the exit code as a process: 2 for the command line, 1 for the work, never a stack trace', async () => {
    assertCliFailure(await child(bin, ['stats', '--frobnicate']), 2, /unknown option --frobnicate/);
    const password = 'Sup3r-s3cret';
    const run = await child(bin, ['stats', '--url', `postgres://someone:${password}@127.0.0.1:1/test`]);
    assertCliFailure(run, 1, /cannot connect to the database: could not connect to 127\.0\.0\.1:1: connection refused/);
    assert.ok(!run.stderr.includes(password));
  });

  it('a server that never answers: says where it could not connect, within what time', async () => {
    const silent = await silentServer();
    try {
      const run = await cli(['stats', '--url', `postgres://someone@127.0.0.1:${silent.port}/db`], {
        PGCONNECT_TIMEOUT: '0.2',
      });
      assertCliFailure(
        run,
        1,
        new RegExp(
          `cannot connect to the database: could not connect to 127\\.0\\.0\\.1:${silent.port} within 200 ms: is the server up`,
        ),
      );
    } finally {
      await silent.close();
    }
  });

  it('without --url or DATABASE_URL, says to give one', async () => {
    // A process of its own: pg reads the PG* variables (and the OS user) from the process environment.
    const run = await child(bin, ['stats'], { DATABASE_URL: undefined });
    // What pg's defaults reached decides the first words (no server on localhost, no such role or database).
    assertCliFailure(
      run,
      1,
      /no connection settings were given, so pg used its defaults .*: name it with a connection string, postgres:\/\/user@host:port\/database .*: in DATABASE_URL for a store or CLI that connects by itself|no database was named: give --url postgres:\/\/user@host:port\/database, or set DATABASE_URL/,
    );
  });

  it('has help for itself and every command', async () => {
    const top = await cli(['--help']);
    assert.equal(top.code, 0);
    for (const command of ['schema', 'migrate', 'prune', 'stats']) {
      assert.match(top.stdout, new RegExp(`\\n  ${command} `));
      const forms =
        command === 'prune'
          ? [
              [command, '--help'],
              ['help', command],
              [command, '-h'],
            ]
          : [[command, '--help']];
      for (const args of forms) {
        const run = await cli(args);
        assert.equal(run.code, 0, args.join(' '));
        assert.match(run.stdout, new RegExp(`^Usage: connect-pg-simple ${command} \\[options\\]`));
      }
    }
  });

  it('exits 2 with one line on a bad command line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /say what to do/],
      [['frobnicate'], /unknown command "frobnicate" \(see/],
      [['migarte'], /unknown command "migarte" \(did you mean migrate\?\)/],
      [['Stats'], /unknown command "Stats" \(did you mean stats\?\)/],
      [['stats', '--frobnicate'], /unknown option --frobnicate \(see/],
      [['prune', '--batchsize', '10'], /unknown option --batchsize \(did you mean --batch-size\?\)/],
      [['migrate', '--dryrun'], /unknown option --dryrun \(did you mean --dry-run\?\)/],
      [['migrate', '--timezone', 'UTC'], /unknown option --timezone \(did you mean --time-zone\?\)/],
      [['stats', '--dry-run'], /--dry-run is not an option of stats/],
      [['prune', '--batch-size', '0'], /--batch-size must be a whole number from 1 to 1,000,000 /],
      [['prune', '--batch-size', 'many'], /--batch-size must be a whole number/],
      [['prune', '--batch-size', '-5'], /--batch-size must be a whole number from 1 to 1,000,000 /],
      [['prune', '--batch-size', '--json'], /--batch-size needs a value: --batch-size N /],
      [['prune', '--json=yes'], /--json takes no value/],
      [['migrate', '--lock-timeout', 'soon'], /--lock-timeout must be a number of seconds/],
      [['migrate', '--lock-timeout', '-1'], /--lock-timeout must be a number of seconds, 0 or more/],
      [['stats', '--table'], /--table needs a value: --table NAME/],
      [['stats', '--table', ''], /--table must be a non-empty name/],
      [['stats', 'extra'], /unexpected argument "extra"/],
      [['schema', '--table', 'x'.repeat(64)], /--table is 64 bytes long in UTF-8, more than PostgreSQL's limit of 63/],
      [['prune', '--schema', 'é'.repeat(32)], /--schema is 64 bytes long/],
      [
        ['migrate', '--table', 'app.sessions'],
        /--table must be a table name only, got "app\.sessions": a dot does not separate a schema there\. Use --schema app --table sessions; for a table whose name really contains a dot, give --schema as well/,
      ],
      [['schema', '--table', 'a.b.c'], /Use --schema a --table b\.c;/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(args);
      assertCliFailure(run, 2, message);
      assert.doesNotMatch(run.stderr, /ambiguous|argument missing/, 'no parser jargon');
    }
  });

  it('a table name with a dot is a name when --schema is given', async () => {
    const run = await cli(['schema', '--schema', 'public', '--table', 'app.sessions']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /CREATE TABLE IF NOT EXISTS "public"\."app\.sessions"/);
  });

  it('schema prints what table.sql holds, or the SQL for other names', async () => {
    const run = await cli(['schema']);
    assert.equal(run.code, 0);
    const tableSql = readFileSync(resolve(root, 'table.sql'), 'utf8');
    assert.equal(run.stdout, tableSql.slice(tableSql.indexOf('DO $cps$')), 'table.sql without its header');
    const named = await cli(['schema', ...target('made_by_schema')]);
    assert.equal(named.stdout, tableSqlScript(tableNames('made_by_schema', schemaName)));
    await admin.query(named.stdout);
    assert.equal(
      (await cli(['migrate', ...target('made_by_schema')])).stdout,
      `${table('made_by_schema')} is at schema version 4: nothing to do\n`,
    );
    const plain = await cli(['schema', '--session-ids', 'plain', ...target('plain_by_schema')]);
    assert.match(plain.stdout, /COMMENT ON COLUMN .*"sid" IS 'connect-pg-simple session ids: plain'/);
    assertCliFailure(
      await cli(['schema', '--session-ids', 'md5']),
      2,
      /--session-ids must be one of plain, sha256, hmac-sha256/,
    );
  });

  it('migrate creates a table, then has nothing to do', async () => {
    const created = await cli(['migrate', ...target('created')]);
    assert.deepEqual(created, { code: 0, stdout: `created ${table('created')} at schema version 4\n`, stderr: '' });
    const again = await cli(['migrate', ...target('created')]);
    assert.equal(again.stdout, `${table('created')} is at schema version 4: nothing to do\n`);
  });

  it('migrate --dry-run prints the SQL and changes nothing; migrate upgrades a 10.x table', async () => {
    await admin.query(legacyTableSql(schemaName, 'legacy'));
    await admin.query(
      `INSERT INTO ${table('legacy')} VALUES ('a', '{"cookie":{}}', now() + interval '1 hour'), ('b', '{}', now() - interval '1 day')`,
    );
    const typeOf = async () =>
      (
        await admin.query(
          `SELECT format_type(atttypid, NULL) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'expire'`,
          [table('legacy')],
        )
      )[0]!.t;
    const dry = await cli(['migrate', '--dry-run', ...target('legacy')]);
    assert.equal(dry.code, 0);
    assert.match(dry.stdout, /^-- .*schema version 0 -> schema version 4 \(dry run: nothing was changed\)\n/);
    assert.match(
      dry.stdout,
      /\n-- {3}10\.x expiry times read in TimeZone \S+, this connection's \(if the 10\.x app's connections used another, give --time-zone\)\n/,
    );
    assert.match(dry.stdout, /\nDO \$cps\$\n[\s\S]*ALTER TABLE [\s\S]*\n\$cps\$;\n$/);
    assert.equal(await typeOf(), 'timestamp without time zone');

    const stats = JSON.parse((await cli(['stats', '--json', ...target('legacy')])).stdout);
    assert.equal(stats.version, 0);
    assert.ok(stats.advice.some((line: string) => /connect-pg-simple migrate/.test(line)));

    assertCliFailure(
      await cli(['migrate', '--time-zone', 'Mars/Olympus_Mons', ...target('legacy')]),
      2,
      /--time-zone: PostgreSQL knows no time zone "Mars\/Olympus_Mons" .* \(see `connect-pg-simple migrate --help`\)/,
    );
    assert.equal(await typeOf(), 'timestamp without time zone', 'a bad --time-zone changed nothing');
    const run = await cli(['migrate', '--time-zone', 'Europe/Berlin', ...target('legacy')]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^migrated .* from schema version 0 to 4\n/);
    assert.match(run.stdout, /\n {2}10\.x expiry times read in TimeZone Europe\/Berlin \(--time-zone\)\n$/);
    assert.equal(await typeOf(), 'timestamp with time zone');
  });

  it('migrate refuses a table made by a newer version', async () => {
    await cli(['migrate', ...target('future')]);
    await admin.query(`COMMENT ON TABLE ${table('future')} IS 'connect-pg-simple schema 42'`);
    assertCliFailure(await cli(['migrate', ...target('future')]), 1, /schema version 42, newer than this package/);
    assertCliFailure(await cli(['prune', ...target('future')]), 1, /schema version 42/);
  });

  it('prune deletes expired sessions in batches and says how many', async () => {
    await cli(['migrate', ...target('pruned')]);
    await admin.query(
      `INSERT INTO ${table('pruned')} SELECT 'dead' || g, '{}', now() - g * interval '1 minute' FROM generate_series(1, 25) g`,
    );
    await admin.query(`INSERT INTO ${table('pruned')} VALUES ('alive', '{}', now() + interval '1 hour')`);
    const run = await cli(['prune', '--batch-size', '10', ...target('pruned')]);
    assert.deepEqual(run, { code: 0, stdout: `deleted 25 expired sessions from ${table('pruned')}\n`, stderr: '' });
    assert.deepEqual(
      (await admin.query(`SELECT sid FROM ${table('pruned')}`)).map((r) => r.sid),
      ['alive'],
    );
    const after = JSON.parse((await cli(['stats', '--json', ...target('pruned')])).stdout);
    assert.deepEqual(
      after.advice.filter((line: string) => /dead/.test(line)),
      [],
      'no dead-row advice right after a prune',
    );
    const json = await cli(['prune', '--json', ...target('pruned')]);
    assert.deepEqual(JSON.parse(json.stdout), { table: table('pruned'), deleted: 0, interrupted: false });
  });

  it('prune on a terminal shows its progress against the total, with a percentage', async () => {
    await cli(['migrate', ...target('progress')]);
    await admin.query(
      `INSERT INTO ${table('progress')} SELECT 'dead' || g, '{}', now() - g * interval '1 minute' FROM generate_series(1, 30) g`,
    );
    let stderr = '';
    let stdout = '';
    const io = { out: (text: string) => (stdout += text), err: (text: string) => (stderr += text), errIsTTY: true };
    const code = await main(['prune', '--batch-size', '10', ...target('progress')], io, {
      DATABASE_URL: databaseUrl(),
    });
    assert.equal(code, 0, stderr);
    assert.equal(stdout, `deleted 30 expired sessions from ${table('progress')}\n`);
    // The first batch's line (10 of 30, with the time left), redrawn in place; the last one complete.
    assert.match(stderr, /^\rdeleted 10 of 30 expired sessions \(33 %\), about \d+ s left…/);
    assert.match(stderr, /\rdeleted 30 of 30 expired sessions \(100 %\)\n$/);
  });

  it('stats shows counts, sizes, vacuum state and advice, as text or JSON', async () => {
    await cli(['migrate', ...target('counted')]);
    await admin.query(
      `INSERT INTO ${table('counted')} SELECT 'live' || g, '{}', now() + interval '1 hour' FROM generate_series(1, 7) g`,
    );
    await admin.query(
      `INSERT INTO ${table('counted')} SELECT 'old' || g, '{}', now() - interval '3 hours' FROM generate_series(1, 3) g`,
    );
    const text = await cli(['stats', ...target('counted')]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^table +"cps_cli_[0-9a-f]+"\."counted"\n/);
    assert.match(text.stdout, /\nschema version +4 \(current\)\n/);
    assert.match(text.stdout, /\nsessions +7 live, 3 expired \(the oldest 3 h ago\)\n/);
    assert.match(text.stdout, /\nsize +\d+ (bytes|kB) table, \d+ (bytes|kB) indexes\n/);
    assert.match(text.stdout, /\nvacuum +never; auto never\n/);
    assert.match(text.stdout, /\nstorage +fillfactor=90\n/);
    assert.match(text.stdout, /\n {2}- 3 expired sessions, the oldest expired 3 h ago: pruning is not running/);

    const json = JSON.parse((await cli(['stats', '--json', ...target('counted')])).stdout);
    assert.equal(json.table, table('counted'));
    assert.equal(json.version, 4);
    assert.equal(json.currentVersion, 4);
    assert.equal(json.liveSessions, 7);
    assert.equal(json.expiredSessions, 3);
    assert.ok(json.tableBytes > 0 && json.indexBytes > 0);
    assert.equal(typeof json.deadTupleRatio, 'number');
    assert.equal(json.lastAutovacuum, null);
    assert.equal(json.advice.length, 1);

    await admin.query(`VACUUM ANALYZE ${table('counted')}`);
    const vacuumed = JSON.parse((await cli(['stats', '--json', ...target('counted')])).stdout);
    assert.match(vacuumed.lastVacuum, /^\d{4}-\d\d-\d\dT/);
    assert.match(vacuumed.lastAnalyze, /^\d{4}-\d\d-\d\dT/);
  });

  it('without --schema, names the schema the search_path resolves the table to', async () => {
    const url = new URL(databaseUrl());
    url.searchParams.set('options', `-c search_path=${schemaName}`);
    const env = { DATABASE_URL: url.toString() };
    assert.equal(
      (await cli(['migrate', '--table', 'found'], env)).stdout,
      `created ${table('found')} at schema version 4\n`,
    );
    assert.equal(
      (await cli(['migrate', '--table', 'found'], env)).stdout,
      `${table('found')} is at schema version 4: nothing to do\n`,
    );
    assert.match((await cli(['stats', '--table', 'found'], env)).stdout, /^table +"cps_cli_[0-9a-f]+"\."found"\n/);
    assert.equal(
      (await cli(['prune', '--table', 'found'], env)).stdout,
      `deleted 0 expired sessions from ${table('found')}\n`,
    );
  });

  it('exits 1 on a missing table, naming it', async () => {
    assertCliFailure(
      await cli(['stats', ...target('absent')]),
      1,
      /table "cps_cli_[0-9a-f]+"\."absent" does not exist/,
    );
    assertCliFailure(await cli(['prune', ...target('absent')]), 1, /does not exist/);
  });

  it('prune and migrate refuse a table that is not a session table, and delete nothing', async () => {
    await admin.query(`CREATE TABLE ${table('invites')} (id int, expire timestamptz)`);
    await admin.query(`INSERT INTO ${table('invites')} VALUES (1, now() - interval '1 day')`);
    const refused =
      /table "cps_cli_[0-9a-f]+"\."invites" is not a session table: it has no "sid" column.*check --schema and --table/;
    assertCliFailure(await cli(['prune', ...target('invites')]), 1, refused);
    assertCliFailure(await cli(['migrate', ...target('invites')]), 1, /"invites" is not a session table/);
    assert.equal((await admin.query(`SELECT count(*)::int AS n FROM ${table('invites')}`))[0]!.n, 1);
  });

  it('exits 1 when it cannot connect, and never prints the password', async () => {
    const password = 'Sup3r-s3cret%21pw';
    const unreachable = `postgres://someone:${password}@127.0.0.1:1/test`;
    const broken = `postgres://someone:${password}@[::1/test`;
    const unencodedAt = `postgres://someone:p@${password}@127.0.0.1:1/test`;
    const runs = [
      await cli(['stats', '--url', unreachable]),
      await cli(['migrate', `--url=${unreachable}`]),
      await cli(['prune'], { DATABASE_URL: unreachable }),
      await cli(['stats', '--url', broken]),
      await cli(['stats', '--url', unencodedAt], { PGPASSWORD: undefined }),
      await cli(['stats', '--url', `nonsense ${password}`]),
      await cli(['stats', '--url', `postgres://no_such_role_cps:${password}@${new URL(databaseUrl()).host}/test`]),
    ];
    for (const run of runs) {
      assertCliFailure(run, 1, /cannot connect|not valid|not a valid URL|not a postgres/);
      for (const secret of [password, decodeURIComponent(password), 's3cret']) {
        assert.ok(!run.stderr.includes(secret), `no password in: ${run.stderr}`);
      }
    }
    assert.match(runs[0]!.stderr, /ECONNREFUSED/);
    assert.match(
      runs[4]!.stderr,
      /could not connect to 127\.0\.0\.1:1: connection refused/,
      'a password with @ is a password',
    );
    assert.deepEqual(secretsOf(unencodedAt, {}), [`p@${password}`, `p@${decodeURIComponent(password)}`]);
    assert.equal(redact(`at ${unencodedAt} now`, []), 'at postgres://someone:***@127.0.0.1:1/test now');
    // Trust authentication says the role does not exist; password authentication says less.
    assert.match(
      runs[6]!.stderr,
      /the user "no_such_role_cps" does not exist \(user "no_such_role_cps", database "test" at [^)]+\): connect as a user that exists|the server refused the password \(user "no_such_role_cps"/,
    );
  });

  it('prints a pg_cron prune function that prunes in batches', async () => {
    await cli(['migrate', ...target('cron')]);
    const fn = await cli(['schema', '--prune-function', ...target('cron')]);
    assert.equal(fn.code, 0);
    assert.match(
      fn.stdout,
      /^CREATE OR REPLACE FUNCTION "cps_cli_[0-9a-f]+"\."cron_prune"\(batch integer DEFAULT 1000/,
    );
    await admin.query(fn.stdout);
    await admin.query(fn.stdout); // CREATE OR REPLACE: running it again is fine
    const prune = `"${schemaName}"."cron_prune"`;
    await admin.query(
      `INSERT INTO ${table('cron')} SELECT 'dead' || g, '{}', now() - g * interval '1 second' FROM generate_series(1, 23) g`,
    );
    await admin.query(`INSERT INTO ${table('cron')} VALUES ('alive', '{}', now() + interval '1 hour')`);
    const call = async (args: string) => Number((await admin.query(`SELECT ${prune}(${args}) AS n`))[0]!.n);
    assert.equal(await call('5, 2'), 10, 'max_batches caps the work of one call');
    assert.equal(await call('5'), 13, 'without max_batches, it goes on until none are left');
    assert.equal(await call(''), 0);
    assert.deepEqual(
      (await admin.query(`SELECT sid FROM ${table('cron')}`)).map((r) => r.sid),
      ['alive'],
    );
    await assert.rejects(
      () => admin.query(`SELECT ${prune}(0)`),
      (error: any) => error.code === '22023',
    );
    // Called with another search_path (as pg_cron may), an unqualified function still finds its table.
    const plain = await cli(['schema', '--prune-function', '--table', 'cron']);
    await admin.query(`SET search_path = "${schemaName}"; ${plain.stdout} RESET search_path;`);
    await admin.query(`INSERT INTO ${table('cron')} VALUES ('dead', '{}', now() - interval '1 day')`);
    assert.equal(Number((await admin.query(`SELECT ${prune}() AS n`))[0]!.n), 1);
  });

  it('reencrypt re-encrypts every live session with the first key of CPS_ENCRYPTION_KEYS, in batches', async () => {
    await cli(['migrate', ...target('rotated')]);
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    const storeWith = (keys?: Buffer[]) =>
      new PGStore({
        pool,
        schemaName,
        tableName: 'rotated',
        pruneSessionInterval: false,
        encryptionKeys: keys,
        describe: (s) => ({ device: `device ${s.i}` }),
      });
    try {
      const before = storeWith([oldKey]);
      for (let i = 0; i < 5; i++) await before.set(`s${i}`, { cookie: {}, i, userId: 1 } as any);
      await storeWith().set('plain', { cookie: {}, i: 'plain', userId: 1 } as any);
      await before.close();

      assertCliFailure(await cli(['reencrypt', ...target('rotated')]), 2, /set CPS_ENCRYPTION_KEYS/);
      assertCliFailure(
        await cli(['reencrypt', ...target('rotated')], { CPS_ENCRYPTION_KEYS: 'c2hvcnQ=' }),
        2,
        /key 1 must be 32 bytes in base64, got base64 of 5 bytes/,
      );
      const keys = `${newKey.toString('base64')}, ${oldKey.toString('base64')}`;
      const run = await cli(['reencrypt', '--batch-size', '2', '--json', ...target('rotated')], {
        CPS_ENCRYPTION_KEYS: keys,
      });
      assert.equal(run.code, 0, run.stderr);
      const totals = JSON.parse(run.stdout);
      assert.deepEqual(
        { examined: totals.examined, reencrypted: totals.reencrypted, current: totals.current },
        { examined: 6, reencrypted: 6, current: 0 },
      );
      assert.deepEqual(
        { examined: totals.details.examined, reencrypted: totals.details.reencrypted },
        { examined: 6, reencrypted: 6 },
        'the details, too',
      );
      assert.ok(!run.stdout.includes(newKey.toString('base64')) && !run.stderr.includes(oldKey.toString('base64')));
      const again = await cli(['reencrypt', ...target('rotated')], { CPS_ENCRYPTION_KEYS: keys });
      assert.match(again.stdout, /^re-encrypted 0 sessions of .* \(6 already current\)\n$/);
      // Only the new key is needed now.
      const after = storeWith([newKey]);
      for (let i = 0; i < 5; i++) assert.equal(((await after.get(`s${i}`)) as any)?.i, i);
      assert.equal(((await after.get('plain')) as any)?.i, 'plain');
      const stored = await admin.query(`SELECT sess::text AS sess FROM ${table('rotated')}`);
      assert.ok(stored.every((r) => r.sess.startsWith('"cps:v1:') && !r.sess.includes('plain')));
      const details = await admin.query(`SELECT details::text AS details FROM ${table('rotated')}`);
      assert.ok(details.every((r) => r.details.startsWith('"cps:v1:') && !r.details.includes('device')));
      assert.deepEqual((await after.userSessions(1)).map((s) => s.details?.device).sort(), [
        'device 0',
        'device 1',
        'device 2',
        'device 3',
        'device 4',
        'device plain',
      ]);
      await after.close();
    } finally {
      await pool.end();
    }
  });

  it("sessions lists a user's sessions, as a table or JSON; revoke revokes all, all but one, or one", async () => {
    await cli(['migrate', ...target('users')]);
    const key = randomBytes(32);
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    const store = new PGStore({
      pool,
      schemaName,
      tableName: 'users',
      pruneSessionInterval: false,
      encryptionKeys: key,
      describe: (session) => ({ device: String(session.device) }),
    });
    try {
      const cookie = { originalMaxAge: 600_000, expires: new Date(Date.now() + 600_000).toISOString() };
      for (const device of ['phone', 'laptop', 'tablet'])
        await store.set(device, { cookie, userId: 42, device } as any);
      await store.set('other', { cookie, userId: 7, device: 'desk' } as any);
      const handles = ['phone', 'laptop', 'tablet'].map((sid) => store.sessionHandle(sid));

      const json = await cli(['sessions', '--user', '42', '--json', ...target('users')], {
        CPS_ENCRYPTION_KEYS: key.toString('base64'),
      });
      assert.equal(json.code, 0, json.stderr);
      const listed = JSON.parse(json.stdout);
      assert.deepEqual(listed.map((s: any) => s.handle).sort(), [...handles].sort());
      assert.deepEqual(listed.map((s: any) => s.details.device).sort(), ['laptop', 'phone', 'tablet']);
      for (const s of listed) assert.ok(Date.parse(s.expiresAt) > Date.now() && Date.parse(s.createdAt) <= Date.now());

      const text = await cli(['sessions', '--user', '42', ...target('users')]);
      assert.equal(text.code, 0);
      assert.match(text.stdout, /^handle +created +last active +expires +details\n/);
      for (const handle of handles) assert.match(text.stdout, new RegExp(`\\n${handle}  \\d{4}-`));
      assert.match(text.stderr, /the details of 3 sessions are encrypted.*CPS_ENCRYPTION_KEYS/);
      assert.equal(
        (await cli(['sessions', '--user', 'nobody', ...target('users')])).stdout,
        `user "nobody" has no live sessions in ${table('users')}\n`,
      );

      assert.deepEqual(await cli(['revoke', '--user', '42', '--except', handles[0]!, ...target('users')]), {
        code: 0,
        stdout: `revoked 2 sessions of user "42" (all but one) in ${table('users')}\n`,
        stderr: '',
      });
      await pastTheCacheBound();
      assert.equal(await store.get('laptop'), null);
      assert.notEqual(await store.get('phone'), null);
      const one = await cli(['revoke', '--handle', handles[0]!, '--user', '7', '--json', ...target('users')]);
      assert.deepEqual(JSON.parse(one.stdout), { table: table('users'), revoked: 0 }, "not user 7's");
      const mine = await cli(['revoke', '--handle', handles[0]!, '--json', ...target('users')]);
      assert.deepEqual(JSON.parse(mine.stdout), { table: table('users'), revoked: 1 });
      await pastTheCacheBound();
      assert.equal(await store.get('phone'), null);
      assert.equal(
        (await cli(['revoke', '--user', '7', ...target('users')])).stdout,
        `revoked 1 session of user "7" in ${table('users')}\n`,
      );
      assert.equal(await store.length(), 0);
      assert.equal(
        (await cli(['revoke', '--user', '7', ...target('users')])).stdout,
        `revoked 0 sessions of user "7" in ${table('users')}\n`,
      );
      assert.equal(
        (await cli(['revoke', '--handle', handles[0]!, ...target('users')])).stdout,
        `revoked 0 sessions with that handle in ${table('users')}\n`,
      );

      assertCliFailure(await cli(['sessions', ...target('users')]), 2, /--user needs a value: --user ID/);
      assertCliFailure(
        await cli(['revoke', ...target('users')]),
        2,
        /revoke needs --user ID \(every session of that user, or all but one with --except HANDLE\) or --handle HANDLE \(one session; `connect-pg-simple sessions --user ID` lists the handles\)/,
      );
      assertCliFailure(await cli(['revoke', '--user', ' ', ...target('users')]), 2, /--user needs a value/);
      assertCliFailure(await cli(['revoke', '--handle', 'h', '--except', 'e', ...target('users')]), 2, /not both/);
      assertCliFailure(await cli(['stats', '--user', '1', ...target('users')]), 2, /--user is not an option of stats/);
      assertCliFailure(await cli(['sessions', '--user', '1', ...target('absent')]), 1, /does not exist/);
      await admin.query(legacyTableSql(schemaName, 'old_users'));
      assertCliFailure(
        await cli(['reencrypt', ...target('old_users')], {
          CPS_ENCRYPTION_KEYS: Buffer.alloc(32, 1).toString('base64'),
        }),
        1,
        /is before schema version 2: run `connect-pg-simple migrate` first/,
      );
      assertCliFailure(
        await cli(['revoke', '--user', '1', ...target('old_users')]),
        1,
        /schema version 0: sessions per user need version 3 \(run `connect-pg-simple migrate`\)/,
      );
    } finally {
      await store.close();
      await pool.end();
    }
  });
});
