import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import connectPgSimple from '../src/index.js';
import { migrate, migrationStatement } from '../src/schema/migrate.js';
import { pruneFunctionName, pruneFunctionSql } from '../src/schema/prune-function.js';
import { quoteLiteral, tableNames } from '../src/sql.js';
import { databaseUrl, uniqueName } from './support/database.js';
import { databaseOf, legacyTableSql } from './support/legacy.js';

const { PGStore } = connectPgSimple;

/** Values a literal must carry through unchanged: quotes and backslashes, alone and together. */
const AWKWARD = ["a'b", 'x\\', "a\\'b", "\\'", "'\\", '\\\\', "''", 'plain', '', 'é\\n🚀'];

describe('quoteLiteral (no database)', () => {
  it('doubles quotes; with a backslash, uses the E form and doubles backslashes too', () => {
    assert.equal(quoteLiteral('plain'), "'plain'");
    assert.equal(quoteLiteral("a'b"), "'a''b'");
    assert.equal(quoteLiteral('x\\'), "E'x\\\\'");
    assert.equal(quoteLiteral("a\\'b"), "E'a\\\\''b'");
  });
});

/** Connections with standard_conforming_strings off, where a plain literal reads backslashes as escapes. */
for (const conforming of ['off', 'on'] as const) {
  describe(`literals built from names, with standard_conforming_strings = ${conforming}`, () => {
    let pool: pg.Pool;
    let schemaName: string;
    const stores: InstanceType<typeof PGStore>[] = [];

    before(async () => {
      pool = new pg.Pool({
        connectionString: databaseUrl(),
        max: 4,
        options: `-c standard_conforming_strings=${conforming}`,
      });
      schemaName = uniqueName("cps_q\\'s");
      await pool.query(`CREATE SCHEMA "${schemaName}"`);
      const [row] = (await pool.query('SHOW standard_conforming_strings')).rows;
      assert.equal(row.standard_conforming_strings, conforming);
    });
    after(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await pool.query(`DROP SCHEMA "${schemaName}" CASCADE`);
      await pool.end();
    });

    it('a literal reads back as the value it was built from', async () => {
      for (const value of AWKWARD) {
        const { rows } = await pool.query(`SELECT ${quoteLiteral(value)}::text AS v`);
        assert.equal(rows[0].v, value, JSON.stringify(value));
      }
    });

    it('a store creates, uses and prunes tables named with quotes and backslashes', async () => {
      for (const tableName of ["a\\'b", 'x\\']) {
        const store = new PGStore({
          pool,
          schemaName,
          tableName,
          createTableIfMissing: true,
          pruneSessionInterval: false,
        });
        stores.push(store);
        await store.set('s1', { cookie: { maxAge: 60_000 }, tableName } as any);
        assert.deepEqual(((await store.get('s1')) as any).tableName, tableName);
        const qualified = tableNames(tableName, schemaName).qualified;
        await pool.query(`INSERT INTO ${qualified} VALUES ('old', '{}', now() - interval '1 hour')`);
        assert.equal(await store.pruneSessions(), 1);
        const { rows } = await pool.query('SELECT obj_description(to_regclass($1), $2) AS c', [qualified, 'pg_class']);
        assert.equal(rows[0].c, 'connect-pg-simple schema 4');
      }
    });

    it('the prune function and its comment are created as written', async () => {
      const names = tableNames('x\\', schemaName);
      await pool.query(pruneFunctionSql(names));
      await pool.query(`INSERT INTO ${names.qualified} VALUES ('dead', '{}', now() - interval '1 hour')`);
      const fn = pruneFunctionName(names);
      assert.equal(Number((await pool.query(`SELECT ${fn}() AS n`)).rows[0].n), 1);
      const { rows } = await pool.query(`SELECT obj_description(${quoteLiteral(fn)}::regproc, 'pg_proc') AS c`);
      assert.ok(rows[0].c.includes(names.qualified), rows[0].c);
    });

    it('migrates a 10.x table named with a backslash', async () => {
      const names = tableNames("old\\'", schemaName);
      await pool.query(legacyTableSql(schemaName, "old\\'"));
      const result = await migrate(databaseOf(pool), names, { legacyTimeZone: 'UTC', lockTimeoutSeconds: 5 });
      assert.equal(result.from, 0);
      const again = await migrate(databaseOf(pool), names);
      assert.equal(again.from, 4, 'the version mark reads back');
    });

    it('a legacy time zone with a backslash and a quote is an unknown zone, not SQL', async () => {
      const names = tableNames('tz', schemaName);
      await pool.query(legacyTableSql(schemaName, 'tz'));
      const zone = "Europe\\'; DROP TABLE tz; --";
      await assert.rejects(
        () => migrate(databaseOf(pool), names, { legacyTimeZone: zone }),
        (error: any) => error.code === '22023' && /time zone/.test(error.message),
      );
      // The zone as the migration itself writes it, past the check migrate() makes first.
      const { sql } = migrationStatement(names, 0, { legacyTimeZone: zone, idForm: 'sha256' });
      await assert.rejects(
        () => pool.query(sql),
        (error: any) => error.code === '22023' && /TimeZone/.test(error.message),
      );
      const { rows } = await pool.query('SELECT to_regclass($1) IS NOT NULL AS still', [names.qualified]);
      assert.equal(rows[0].still, true);
    });
  });
}
