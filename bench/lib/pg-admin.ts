import pg from 'pg';
import { type BenchSession, newSession, newSid } from './sessions.js';

type Ddl = typeof import('../../src/schema/ddl.js');
type Sql = typeof import('../../src/sql.js');
type Current = typeof import('../../src/statements/current.js');
// Types from the source, code from the build that `npm run bench` has just made.
const ddl: Ddl = require('../../dist/schema/ddl.js');
const sql: Sql = require('../../dist/sql.js');
const current: Current = require('../../dist/statements/current.js');

/** Raw SQL for creating, filling and inspecting the bench's tables, outside any store. */
/** When this bench run began: every table's sessions are seeded as of this moment. */
const RUN_STARTED_AT_MS = Date.now();

export class PgAdmin {
  readonly pool: pg.Pool;
  readonly schema: string;

  constructor(url: string, schema: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 2 });
    this.pool.on('error', () => {});
    this.schema = schema;
  }

  /** The server's version, or undefined when it cannot be reached. */
  async probe(): Promise<string | undefined> {
    try {
      const { rows } = await this.pool.query('SHOW server_version');
      return String(rows[0].server_version);
    } catch {
      return undefined;
    }
  }

  async query(text: string, values: unknown[] = []): Promise<any[]> {
    return (await this.pool.query(text, values)).rows;
  }

  /** The SELECT the store's `get` sends for a current table of this schema, as the store builds it. */
  storeGetText(table: string): string {
    return current.currentStatements(sql.tableNames(table, this.schema)).get.text;
  }

  qualified(table: string): string {
    return sql.tableNames(table, this.schema).qualified;
  }

  async resetSchema(): Promise<void> {
    const s = sql.quoteIdentifier(this.schema);
    await this.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await this.query(`CREATE SCHEMA ${s}`);
  }

  async dropSchema(): Promise<void> {
    await this.query(`DROP SCHEMA IF EXISTS ${sql.quoteIdentifier(this.schema)} CASCADE`);
  }

  /** A table as this package's table.sql makes it. */
  /** A table as a build of ours makes it: this one's, or another build's `ddl` (a baseline's). */
  async createOursTable(table: string, other?: { ddl: Ddl; sql: Sql }, plainIds = false): Promise<void> {
    const { ddl: made, sql: named } = other ?? { ddl, sql };
    const settings = plainIds ? { idForm: 'plain' as const } : {};
    for (const statement of made.createTableStatements(named.tableNames(table, this.schema), settings)) {
      await this.query(statement);
    }
  }

  /** A table as connect-pg-simple 10.x's table.sql makes it. */
  async createV10Table(table: string): Promise<void> {
    const t = this.qualified(table);
    await this.query(`CREATE TABLE ${t} (
  "sid" varchar NOT NULL COLLATE "default",
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
)`);
    await this.query(`ALTER TABLE ${t} ADD CONSTRAINT ${sql.quoteIdentifier(`${table}_pkey`)} PRIMARY KEY ("sid")`);
    await this.query(`CREATE INDEX ${sql.quoteIdentifier(`IDX_${table}_expire`)} ON ${t} ("expire")`);
  }

  /**
   * `count` one-day sessions, each as if last written at a random moment in the `windowSeconds`
   * before the run began (ours: touchAfter 60 s): the steady state of a busy site, so that a run of
   * a few seconds sees the share of touches that must write. A write stores the lifetime, so a row
   * has between a day minus the window and a day left; `padded`: as code before 11's exact idle
   * timeout wrote them (a day plus the window). Every table is seeded as of the same moment, so a
   * contender seeded later in the run is not favoured (its rows would fall due later).
   */
  async seed(
    table: string,
    count: number,
    windowSeconds = 0,
    padded = false,
    /** What a row holds for a session id and its JSON text (hashed ids, encryption); default as they are. */
    stored: { id?: (sid: string) => string; text?: (json: string, storedId: string) => string } = {},
  ): Promise<{ sids: string[]; sessions: BenchSession[] }> {
    const sids: string[] = [];
    const sessions: BenchSession[] = [];
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      sids.push(newSid());
      sessions.push(newSession(i, now));
    }
    const t = this.qualified(table);
    const ids = sids.map(stored.id ?? ((sid) => sid));
    const text = stored.text ?? ((json) => json);
    for (let i = 0; i < count; i += 5000) {
      await this.query(
        `INSERT INTO ${t} (sid, sess, expire)
         SELECT sid, sess::json, to_timestamp($5::float8 / 1000) + interval '1 day' + (CASE WHEN $4::bool THEN 1 ELSE -1 END) * random() * $3::float8 * interval '1 second'
         FROM unnest($1::text[], $2::text[]) AS s(sid, sess)`,
        [
          ids.slice(i, i + 5000),
          sessions.slice(i, i + 5000).map((s, j) => text(JSON.stringify(s), ids[i + j]!)),
          windowSeconds,
          padded,
          RUN_STARTED_AT_MS,
        ],
      );
    }
    await this.query(`VACUUM ANALYZE ${t}`);
    return { sids, sessions };
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
