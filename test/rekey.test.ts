import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SessionCore } from '../src/core.js';
import { SessionCipher } from '../src/encryption.js';
import { PGStore } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { readStorageForms } from '../src/schema/storage-forms.js';
import { pepperIdOf, storedIdFunction } from '../src/session-id.js';
import { tableNames } from '../src/sql.js';
import { useTestSchema } from './support/apps.js';
import { assertCliFailure, runCli, spawnCli } from './support/cli.js';
import { eventually, uniqueName } from './support/database.js';
import { drivers } from './support/drivers.js';
import { databaseOf, fillWithLegacySessions, legacyStore, legacyTableSql } from './support/legacy.js';
import { inSeconds, pastTheCacheBound } from './support/sessions.js';

const PEPPER = 'the pepper of the re-keying tests';
const keyed = storedIdFunction('hmac-sha256', Buffer.from(PEPPER));
const sha256 = storedIdFunction('sha256');
const withPepper = { CPS_SESSION_ID_PEPPER: PEPPER };

describe('connect-pg-simple rekey: sha256 or plain ids to hmac-sha256, nobody logged out', () => {
  const schema = useTestSchema('cps_rekey', 12);
  const target = (table: string) => ['--schema', schema.schemaName, '--table', table];
  const qualified = (table: string) => `"${schema.schemaName}"."${table}"`;
  const sidComment = async (table: string) =>
    (
      await schema.pool.query(
        `SELECT col_description(to_regclass($1), (SELECT attnum FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'sid')::int) AS c`,
        [qualified(table)],
      )
    ).rows[0].c as string | null;
  const storedIds = async (table: string) =>
    (await schema.pool.query(`SELECT sid FROM ${qualified(table)}`)).rows.map((r) => r.sid as string).sort();
  const columns = async (table: string) =>
    (
      await schema.pool.query(
        `SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        [qualified(table)],
      )
    ).rows.map((r) => r.attname as string);

  /** A store whose clock the test moves: a minute on, it looks at its table again. */
  const clockedCore = (table: string, extra: object = {}) => {
    const clock = { now: 0 };
    const core = new SessionCore(resolveOptions({ ...schema.storeOptions(table), errorLog: () => {}, ...extra }), {
      requireCookie: false,
      now: () => clock.now,
    });
    schema.onClose(() => core.close());
    return { core, clock };
  };

  /**
   * Requests against `core` until stopped: each reads an existing session (it must be found, with
   * its data), changes one, and creates one. The clock moves a minute each round, so the store
   * looks at the table again and again while it changes.
   */
  const serve = (core: SessionCore, clock: { now: number }, existing: readonly string[]) => {
    const problems: string[] = [];
    const created = new Map<string, number>();
    let rounds = 0;
    let running = true;
    const done = (async () => {
      for (let i = 0; running; i++) {
        clock.now += 61_000;
        const sid = existing[(i * 7) % existing.length]!;
        try {
          const loaded = await core.load(sid);
          const session = (loaded?.session ?? null) as any;
          if (session?.name !== sid) problems.push(`${sid} not found in round ${i}: ${JSON.stringify(session)}`);
          else {
            session.seen = (session.seen ?? 0) + 1;
            await core.save(sid, session, loaded!.receipt);
          }
          await core.save(`new-${i}`, inSeconds(3600, { name: `new-${i}`, n: i }) as any, undefined);
          created.set(`new-${i}`, i);
          rounds++;
        } catch (error) {
          problems.push(`round ${i}: ${(error as Error).message}`);
        }
      }
    })();
    return {
      problems,
      created,
      rounds: () => rounds,
      stop: async () => {
        running = false;
        await done;
      },
    };
  };

  const fill = async (store: { set(sid: string, session: any): Promise<unknown> }, prefix: string, n: number) => {
    const sids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    for (const sid of sids) await store.set(sid, inSeconds(3600, { name: sid }));
    return sids;
  };

  it('re-keys a sha256 table while a store with the pepper serves requests; every cookie finds its session, during and after', async () => {
    const table = 'from_sha256';
    const before = new PGStore({ ...schema.storeOptions(table) });
    const sids = await fill(before, 'old', 120);
    await before.close();
    assert.equal(await sidComment(table), 'connect-pg-simple session ids: sha256');

    const logged: string[] = [];
    const { core, clock } = clockedCore(table, {
      sessionIdPepper: PEPPER,
      errorLog: (...args: unknown[]) => logged.push(args.map(String).join(' ')),
    });
    assert.equal((await core.load('old-0'))?.session.name, 'old-0', 'a store with the pepper serves a sha256 table');
    assert.match(logged.join('\n'), /stores session ids as sha256, not keyed with sessionIdPepper: .* rekey/);
    await core.save('before-rekey', inSeconds(3600, { name: 'before-rekey' }) as any, undefined);
    assert.ok((await storedIds(table)).includes(sha256('before-rekey')), 'until the re-keying, it writes sha256 ids');

    const traffic = serve(core, clock, [...sids, 'before-rekey']);
    assert.ok(await eventually(async () => traffic.rounds() >= 10, 20_000));
    const run = await runCli(['rekey', '--batch-size', '7', '--json', ...target(table)], withPepper);
    const roundsAtEnd = traffic.rounds();
    assert.ok(await eventually(async () => traffic.rounds() >= roundsAtEnd + 10, 20_000));
    await traffic.stop();

    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.finished, true);
    assert.equal(report.from, 'sha256');
    assert.ok(report.moved >= 121 && report.moved <= 121 + traffic.created.size, `moved ${report.moved}`);
    assert.deepEqual(traffic.problems, []);
    assert.equal(
      await sidComment(table),
      `connect-pg-simple session ids: hmac-sha256 (pepper ${pepperIdOf(Buffer.from(PEPPER))})`,
      "the re-keyed table records its pepper's id",
    );
    assert.ok(!(await columns(table)).includes('cps_rekeyed'), 'the helper column is gone');
    const every = [...sids, 'before-rekey', ...traffic.created.keys()];
    assert.deepEqual(await storedIds(table), every.map(keyed).sort(), 'every row, and only those, keyed once');

    // A store started now finds every session by its cookie, with what the requests wrote.
    const after = new PGStore({ ...schema.storeOptions(table), sessionIdPepper: PEPPER });
    schema.onClose(() => after.close());
    for (const sid of every) assert.equal(((await after.get(sid)) as any)?.name, sid, sid);
    assert.ok(((await after.get('old-7')) as any).seen >= 1, 'the changes made during the re-keying are kept');
    // And the store that served through it, once it has looked at the table again.
    clock.now += 61_000;
    await core.load('old-1');
    for (const sid of ['old-0', 'old-119', 'before-rekey']) assert.equal((await core.load(sid))?.session.name, sid);

    // A store without the pepper is refused, told what to do.
    const without = new PGStore({ ...schema.storeOptions(table) });
    schema.onClose(() => without.close());
    await assert.rejects(
      () => without.get('old-0'),
      (error: Error) =>
        error.name === 'SchemaError' &&
        /stores session ids as hmac-sha256.*Set sessionIdPepper to the pepper the table was keyed with/.test(
          error.message,
        ),
    );
    // Nor is a store with another pepper.
    const otherPepper = new PGStore({ ...schema.storeOptions(table), sessionIdPepper: 'another pepper, just as long' });
    schema.onClose(() => otherPepper.close());
    await assert.rejects(
      () => otherPepper.get('old-0'),
      (error: Error) => error.name === 'SchemaError' && /keyed with another sessionIdPepper/.test(error.message),
    );
    // Running it again does nothing, and says a pepper cannot change.
    const again = await runCli(['rekey', ...target(table)], withPepper);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already stores hmac-sha256 ids: nothing to do \(a table's pepper cannot be changed/);
    // With another pepper, rekey refuses the table it recorded its pepper on.
    const otherId = pepperIdOf(Buffer.from('another pepper, just as long'));
    assertCliFailure(
      await runCli(['rekey', ...target(table)], { CPS_SESSION_ID_PEPPER: 'another pepper, just as long' }),
      1,
      new RegExp(
        `is keyed with another pepper \\(pepper id ${pepperIdOf(Buffer.from(PEPPER))}; CPS_SESSION_ID_PEPPER's is ${otherId}\\): its stores need that pepper, and a table's pepper cannot be changed`,
      ),
    );
  });

  it('re-keys an encrypted table while a store with the pepper and the keys serves it: every session still decrypts, during and after', async () => {
    const table = 'encrypted_traffic';
    const key = randomBytes(32);
    const before = new PGStore({ ...schema.storeOptions(table), encryptionKeys: [key] });
    const sids = await fill(before, 'enc', 60);
    await before.close();
    const logged: string[] = [];
    const { core, clock } = clockedCore(table, {
      sessionIdPepper: PEPPER,
      encryptionKeys: [key],
      errorLog: (...args: unknown[]) => logged.push(args.map(String).join(' ')),
    });
    const traffic = serve(core, clock, sids);
    assert.ok(await eventually(async () => traffic.rounds() >= 10, 20_000));
    const run = await runCli(['rekey', '--batch-size', '5', '--json', ...target(table)], {
      ...withPepper,
      CPS_ENCRYPTION_KEYS: key.toString('base64'),
    });
    const roundsAtEnd = traffic.rounds();
    assert.ok(await eventually(async () => traffic.rounds() >= roundsAtEnd + 10, 20_000));
    await traffic.stop();

    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).undecryptable, 0);
    assert.deepEqual(traffic.problems, []);
    assert.deepEqual(
      logged.filter((line) => /decrypt/.test(line)),
      [],
      'no session failed to decrypt',
    );
    const after = new PGStore({
      ...schema.storeOptions(table),
      sessionIdPepper: PEPPER,
      encryptionKeys: [key],
      errorLog: (...args: unknown[]) => logged.push(args.map(String).join(' ')),
    });
    schema.onClose(() => after.close());
    for (const sid of [...sids, ...traffic.created.keys()]) {
      assert.equal(((await after.get(sid)) as any)?.name, sid, sid);
    }
    // Every session is bound to the id its row has now, not only readable through a store's
    // fallbacks: rekey re-binds what it moves; what a store wrote before it saw the re-keying
    // begin (bound to the SHA-256 of the session's id) it binds anew when it reads it (above).
    const cipher = new SessionCipher([key]);
    const rows = (await schema.pool.query(`SELECT sid, sess::text AS sess FROM ${qualified(table)}`)).rows;
    assert.equal(rows.length, sids.length + traffic.created.size);
    for (const row of rows) assert.match(cipher.decrypt(row.sess, row.sid), /"name"/);
    assert.deepEqual(
      logged.filter((line) => /decrypt/.test(line)),
      [],
    );
  });

  it('re-keys a 10.x table (migrated keeping plain ids) while a store with the pepper serves it from before the migration', async () => {
    const table = 'from_10x';
    await schema.pool.query(legacyTableSql(schema.schemaName, table));
    const legacy = legacyStore(schema.pool, schema.schemaName, table);
    const expected = await fillWithLegacySessions(legacy, 40);
    await legacy.close();
    const live = [...expected].filter(([, at]) => at * 1000 > Date.now()).map(([sid]) => sid);
    // 10.x's sessions have no name: give the traffic one to check.
    for (const sid of live) {
      await schema.pool.query(
        `UPDATE ${qualified(table)} SET sess = json_build_object('cookie', sess->'cookie', 'name', sid) WHERE sid = $1`,
        [sid],
      );
    }

    const { core, clock } = clockedCore(table, { sessionIdPepper: PEPPER });
    const traffic = serve(core, clock, live);
    assert.ok(await eventually(async () => traffic.rounds() >= 10, 20_000));
    const migrated = await runCli(['migrate', '--session-ids', 'plain', ...target(table)]);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.ok(await eventually(async () => traffic.rounds() >= 20, 20_000));
    const run = await runCli(['rekey', '--batch-size', '5', ...target(table)], withPepper);
    const roundsAtEnd = traffic.rounds();
    assert.ok(await eventually(async () => traffic.rounds() >= roundsAtEnd + 10, 20_000));
    await traffic.stop();

    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^re-keyed \d+ sessions of .* from plain to hmac-sha256 ids/);
    assert.deepEqual(traffic.problems, []);
    assert.equal(
      await sidComment(table),
      `connect-pg-simple session ids: hmac-sha256 (pepper ${pepperIdOf(Buffer.from(PEPPER))})`,
    );
    const ids = await storedIds(table);
    assert.ok(!ids.some((id) => id.startsWith('legacy-') || id.startsWith('new-')), 'no plain id is left');
    for (const sid of [...live, ...traffic.created.keys()]) assert.ok(ids.includes(keyed(sid)), `${sid} is keyed`);
    const after = new PGStore({ ...schema.storeOptions(table), sessionIdPepper: PEPPER });
    schema.onClose(() => after.close());
    for (const sid of live) assert.equal(((await after.get(sid)) as any)?.name, sid, sid);
  });

  it('interrupted (Ctrl-C), leaves the table re-keying and served; run again, it finishes without keying a row twice', async () => {
    const table = 'interrupted';
    const before = new PGStore({ ...schema.storeOptions(table) });
    const sids = await fill(before, 'i', 400);
    await before.close();

    const { child, done } = spawnCli(['rekey', '--batch-size', '1', ...target(table)], withPepper);
    const movedSome = await eventually(async () => {
      const { rows } = await schema.pool
        .query(`SELECT count(*) FILTER (WHERE cps_rekeyed)::int AS moved FROM ${qualified(table)}`)
        .catch(() => ({ rows: [{ moved: 0 }] }));
      return rows[0].moved >= 20;
    }, 30_000);
    assert.ok(movedSome, 'the child re-keyed some rows');
    // Frozen while Ctrl-C arrives, so that it cannot finish the table meanwhile.
    child.kill('SIGSTOP');
    child.kill('SIGINT');
    child.kill('SIGCONT');
    const stopped = await done;
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stdout, /left \(interrupted: the table stays re-keying/);
    assert.match(
      (await sidComment(table)) ?? '',
      /^connect-pg-simple session ids: re-keying sha256 to hmac-sha256 \(pepper [0-9a-f]{8}\)$/,
    );

    // Half moved, half not: a store with the pepper finds every session; stores without it, or
    // with another pepper, refuse the table.
    const serving = new PGStore({ ...schema.storeOptions(table), sessionIdPepper: PEPPER });
    schema.onClose(() => serving.close());
    for (const sid of sids) assert.equal(((await serving.get(sid)) as any)?.name, sid, sid);
    await serving.set('during', inSeconds(3600, { name: 'during' }) as any);
    assert.ok((await storedIds(table)).includes(keyed('during')), 'new rows take the new form');
    const without = new PGStore({ ...schema.storeOptions(table) });
    const otherPepper = new PGStore({ ...schema.storeOptions(table), sessionIdPepper: 'another pepper, as long' });
    schema.onClose(() => Promise.all([without.close(), otherPepper.close()]));
    await assert.rejects(
      () => without.get('i-0'),
      /being re-keyed from sha256 to hmac-sha256 ids .* has no sessionIdPepper/,
    );
    await assert.rejects(() => otherPepper.get('i-0'), /being re-keyed to hmac-sha256 ids with another pepper/);
    assertCliFailure(
      await runCli(['rekey', ...target(table)], { CPS_SESSION_ID_PEPPER: 'another pepper, as long' }),
      1,
      /is being re-keyed with another pepper .* run rekey with the pepper it began with/,
    );

    const stats = await runCli(['stats', ...target(table)]);
    assert.match(
      stats.stdout,
      /\nsession ids +re-keying from sha256 to hmac-sha256 \(pepper id [0-9a-f]{8}\), \d+ rows left to move: run `connect-pg-simple rekey` to finish\n/,
    );
    const statsJson = JSON.parse((await runCli(['stats', '--json', ...target(table)])).stdout);
    assert.equal(statsJson.sessionIds.form, 're-keying');
    assert.equal(statsJson.sessionIds.rekeying.from, 'sha256');
    const left = Number(
      (await schema.pool.query(`SELECT count(*) AS n FROM ${qualified(table)} WHERE cps_rekeyed IS NULL`)).rows[0].n,
    );
    assert.ok(left > 0 && left < 400);
    assert.equal(statsJson.sessionIds.rekeying.rowsLeft, left);

    const dry = await runCli(['rekey', '--dry-run', ...target(table)], withPepper);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /would go on re-keying \d+ sessions from sha256 to hmac-sha256 ids .* \(dry run: nothing was changed\)/,
    );
    const again = await runCli(['rekey', '--json', ...target(table)], withPepper);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).finished, true);
    assert.deepEqual(await storedIds(table), [...sids, 'during'].map(keyed).sort());
    for (const sid of sids) assert.equal(((await serving.get(sid)) as any)?.name, sid, sid);
  });

  it('a store that does not have the pepper refuses the table within a minute of the re-keying starting', async () => {
    const table = 'refused_later';
    const { core, clock } = clockedCore(table);
    await core.save('s', inSeconds(3600, { name: 's' }) as any, undefined);
    const run = await runCli(['rekey', ...target(table)], withPepper);
    assert.equal(run.code, 0, run.stderr);
    clock.now += 61_000;
    await core.load('s').catch(() => null); // starts the look at the table
    assert.ok(
      await eventually(async () => {
        try {
          await core.load('s');
          return false;
        } catch (error) {
          return /stores session ids as hmac-sha256/.test((error as Error).message);
        }
      }, 10_000),
      'refused after its look at the table',
    );
  });

  it('a store with the pepper writes and reads a table of sha256 ids with every statement setting: relaxed commits, absolute timeout, encryption', async () => {
    const table = 'settings';
    const key = randomBytes(32);
    const before = new PGStore({ ...schema.storeOptions(table), encryptionKeys: [key] });
    await before.set('old', inSeconds(3600, { name: 'old' }) as any);
    const store = new PGStore({
      ...schema.storeOptions(table),
      sessionIdPepper: PEPPER,
      synchronousCommit: false,
      absoluteTimeout: 3600,
      encryptionKeys: [key],
    });
    schema.onClose(() => Promise.all([before.close(), store.close()]));
    const loaded = (await store.get('old')) as any;
    assert.equal(loaded?.name, 'old');
    loaded.changed = 1;
    await store.set('old', loaded);
    await store.set('new', inSeconds(3600, { name: 'new' }) as any);
    await store.touch('new', (await store.get('new')) as any);
    // Until the table is re-keyed, what it writes is what a store without the pepper reads.
    assert.equal(((await before.get('old')) as any)?.changed, 1);
    assert.equal(((await before.get('new')) as any)?.name, 'new');
    assert.deepEqual(await storedIds(table), ['new', 'old'].map(sha256).sort());
    await store.destroy('new');
    await pastTheCacheBound();
    assert.equal(await before.get('new'), null);
  });

  for (const driver of ['pg', 'pg-pipeline', 'pg-promise', 'postgres', 'pglite'] as const) {
    it(`a store with the pepper finds sessions in either form through ${driver} (its id candidates are a text array)`, async () => {
      const harness = await drivers[driver]!();
      const schemaName = uniqueName('cps_rekey_driver');
      await harness.admin.query(`CREATE SCHEMA "${schemaName}"`);
      const options = { ...harness.storeOptions, schemaName, createTableIfMissing: true, pruneSessionInterval: false };
      const plain = new PGStore(options as any);
      const peppered = new PGStore({ ...options, sessionIdPepper: PEPPER, errorLog: () => {} } as any);
      try {
        await plain.set('x', inSeconds(3600, { v: 1 }) as any);
        const loaded = (await peppered.get('x')) as any;
        assert.equal(loaded?.v, 1);
        loaded.v = 2;
        await peppered.set('x', loaded);
        await peppered.set('y', inSeconds(3600, { v: 3 }) as any);
        await peppered.touch('y', (await peppered.get('y')) as any);
        assert.equal(((await plain.get('x')) as any)?.v, 2);
        assert.equal(((await plain.get('y')) as any)?.v, 3);
        await peppered.destroy('y');
        await pastTheCacheBound();
        assert.equal(await plain.get('y'), null);
        // Moved to the new form behind its back, the row is still found.
        await harness.admin.query(`UPDATE "${schemaName}"."session" SET sid = $1 WHERE sid = $2`, [
          keyed('x'),
          sha256('x'),
        ]);
        await pastTheCacheBound();
        assert.equal(((await peppered.get('x')) as any)?.v, 2);
      } finally {
        await Promise.all([plain.close(), peppered.close()]);
        await harness.admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
        await harness.close();
      }
    });
  }

  it('dry run changes nothing; --json says what it would do', async () => {
    const table = 'dry';
    const before = new PGStore({ ...schema.storeOptions(table) });
    await fill(before, 'd', 3);
    await before.close();
    const run = await runCli(['rekey', '--dry-run', '--json', ...target(table)], withPepper);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(
      { dryRun: report.dryRun, from: report.from, sessions: report.sessions, encrypted: report.encrypted },
      { dryRun: true, from: 'sha256', sessions: 3, encrypted: 0 },
    );
    assert.equal(await sidComment(table), 'connect-pg-simple session ids: sha256');
    assert.deepEqual(await storedIds(table), ['d-0', 'd-1', 'd-2'].map(sha256).sort());
    assert.ok(!(await columns(table)).includes('cps_rekeyed'));
  });

  it('a missing, short or badly encoded pepper, and a table before schema 2, are clear errors with exit codes', async () => {
    const table = 'errors';
    const before = new PGStore({ ...schema.storeOptions(table) });
    await fill(before, 'e', 1);
    await before.close();
    assertCliFailure(
      await runCli(['rekey', ...target(table)]),
      2,
      /set CPS_SESSION_ID_PEPPER to the stores' sessionIdPepper/,
    );
    assertCliFailure(
      await runCli(['rekey', ...target(table)], { CPS_SESSION_ID_PEPPER: 'short' }),
      2,
      /CPS_SESSION_ID_PEPPER holds 5 bytes: a pepper has at least 16/,
    );
    assertCliFailure(
      await runCli(['rekey', '--pepper-encoding', 'hex', ...target(table)], {
        CPS_SESSION_ID_PEPPER: 'not hex at all, no',
      }),
      2,
      /CPS_SESSION_ID_PEPPER is not hex/,
    );
    assertCliFailure(
      await runCli(['rekey', '--pepper-encoding', 'rot13', ...target(table)], withPepper),
      2,
      /--pepper-encoding must be one of utf8, base64, hex/,
    );
    const run = await runCli(['rekey', '--json', ...target(table)], withPepper);
    assert.ok(!run.stdout.includes(PEPPER) && !run.stderr.includes(PEPPER), 'the pepper is never printed');
    await schema.pool.query(legacyTableSql(schema.schemaName, 'old_10x'));
    assertCliFailure(
      await runCli(['rekey', ...target('old_10x')], withPepper),
      1,
      /is at schema version 0: run `connect-pg-simple migrate` first/,
    );
    assertCliFailure(await runCli(['rekey', ...target('nothing')], withPepper), 1, /does not exist/);
  });

  it('binds encrypted sessions to their new ids, with the keys from CPS_ENCRYPTION_KEYS; a Buffer pepper goes as base64', async () => {
    const table = 'encrypted';
    const key = randomBytes(32);
    const pepper = randomBytes(32);
    const before = new PGStore({ ...schema.storeOptions(table), encryptionKeys: [key] });
    const sids = await fill(before, 'x', 12);
    await before.close();
    const unencrypted = new PGStore({ ...schema.storeOptions(table) });
    await unencrypted.set('unencrypted', inSeconds(3600, { name: 'unencrypted' }) as any);
    await unencrypted.close();
    const keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
    const stats = await runCli(['stats', ...target(table)]);
    assert.match(stats.stdout, /\nsession ids +sha256\n/);
    assert.match(stats.stdout, new RegExp(`\\nlive sessions +12 encrypted \\(key ${keyId}: 12\\), 1 plain JSON\\n`));
    const env = { CPS_SESSION_ID_PEPPER: pepper.toString('base64') };
    assertCliFailure(
      await runCli(['rekey', '--pepper-encoding', 'base64', ...target(table)], env),
      2,
      /12 sessions to re-key are encrypted: set CPS_ENCRYPTION_KEYS/,
    );
    const dry = await runCli(['rekey', '--dry-run', '--pepper-encoding', 'base64', ...target(table)], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /13 sessions from sha256 .*, 12 of them encrypted: set CPS_ENCRYPTION_KEYS/);
    // Counted in a sample when the table is big (here: made to count as big).
    await schema.pool.query(
      `INSERT INTO ${qualified(table)} (sid, sess, expire) SELECT 'filler' || i, '{"cookie":{}}', now() + interval '1 hour' FROM generate_series(1, 20000) i`,
    );
    await schema.pool.query(`ANALYZE ${qualified(table)}`);
    const sampled = await readStorageForms(databaseOf(schema.pool), tableNames(table, schema.schemaName), {
      exactCountLimit: 1000,
      sampleRows: 10_000,
    });
    assert.equal(sampled?.encryption.sampled, true);
    const estimate = sampled!.encryption.plain + sampled!.encryption.encrypted;
    assert.ok(estimate > 5000 && estimate < 60_000, `an estimate of about 20,013 rows: ${estimate}`);
    await schema.pool.query(`DELETE FROM ${qualified(table)} WHERE sid LIKE 'filler%'`);
    const run = await runCli(['rekey', '--pepper-encoding', 'base64', '--batch-size', '5', ...target(table)], {
      ...env,
      CPS_ENCRYPTION_KEYS: key.toString('base64'),
    });
    assert.equal(run.code, 0, run.stderr);
    const after = new PGStore({ ...schema.storeOptions(table), encryptionKeys: [key], sessionIdPepper: pepper });
    schema.onClose(() => after.close());
    for (const sid of sids) assert.equal(((await after.get(sid)) as any)?.name, sid, sid);
    assert.equal(((await after.get('unencrypted')) as any)?.name, 'unencrypted');
    const cipher = new SessionCipher([key]);
    const rows = (await schema.pool.query(`SELECT sid, sess::text AS sess FROM ${qualified(table)}`)).rows;
    for (const row of rows) {
      if (!row.sess.startsWith('"cps:v1:')) continue;
      assert.match(cipher.decrypt(row.sess, row.sid), /"name"/, 'bound to its new id');
    }
    const statsAfter = JSON.parse((await runCli(['stats', '--json', ...target(table)])).stdout);
    assert.deepEqual(statsAfter.sessionIds, { form: 'hmac-sha256' });
    assert.deepEqual(statsAfter.encryption, { byKeyId: { [keyId]: 12 }, encrypted: 12, plain: 1, sampled: false });
  });
});
