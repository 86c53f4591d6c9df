/** The command line's grammar: what help prints and what the parser accepts, in one place. */

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** For a string option: what its value is, as help shows it. */
  readonly value?: string;
  /** For a string option that may be given without its value: the value it then has. */
  readonly optionalValue?: string;
  readonly description: string;
}

export interface CommandSpec {
  readonly summary: string;
  readonly description: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Does it need the database? */
  readonly connects: boolean;
  readonly examples: readonly string[];
}

export const CONNECTION_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  url: {
    type: 'string',
    value: 'URL',
    description:
      'postgres://user:password@host:port/database, special characters of the password percent-encoded (default: DATABASE_URL, else the PG* variables; PGCONNECT_TIMEOUT: seconds to wait for a connection, default 10)',
  },
  schema: {
    type: 'string',
    value: 'NAME',
    description: "the table's schema (default: the one the search_path finds the table in; messages name it)",
  },
  table: { type: 'string', value: 'NAME', description: 'the session table (default: session)' },
};

export const GENERAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  help: { type: 'boolean', short: 'h', description: 'show help' },
  version: { type: 'boolean', short: 'V', description: "show connect-pg-simple's version" },
};

const json: OptionSpec = { type: 'boolean', description: 'print one JSON object instead of text' };

/** The partitioned layout, for a new table: the store's `partitionBy` and `absoluteTimeout`. */
const partitionOptions = (what: string): Readonly<Record<string, OptionSpec>> => ({
  'partition-days': {
    type: 'string',
    value: 'N',
    description: `${what} partitioned by creation time, N days per partition, for tens of millions of sessions: pruning drops whole partitions (needs --absolute-timeout; see docs/scaling.md)`,
  },
  'absolute-timeout': {
    type: 'string',
    value: 'SECONDS',
    description:
      "with --partition-days: the stores' absoluteTimeout; a partition is dropped once every session in it is older than this",
  },
});

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  schema: {
    summary: 'print the SQL that creates the session table',
    description:
      'Prints the CREATE TABLE, CREATE INDEX and COMMENT statements of the current schema version for the chosen names (for the defaults: what table.sql holds). Does not connect.',
    options: {
      'prune-function': {
        type: 'boolean',
        description:
          'print instead a SQL function <table>_prune(batch, max_batches) that deletes expired sessions, for pg_cron',
      },
      'session-ids': {
        type: 'string',
        value: 'FORM',
        description:
          'how the table stores session ids, as the stores that use it are configured: sha256 (the default), plain (hashSessionIds: false), or hmac-sha256 (sessionIdPepper)',
      },
      ...partitionOptions('print a table'),
    },
    connects: false,
    examples: [
      'connect-pg-simple schema --schema app --table sessions | psql "$DATABASE_URL"',
      'connect-pg-simple schema --partition-days 1 --absolute-timeout 604800 | psql "$DATABASE_URL"',
      'connect-pg-simple schema --prune-function | psql "$DATABASE_URL"',
    ],
  },
  migrate: {
    summary: 'create the table, or upgrade it (such as a 10.x table) to the current schema version',
    description:
      'Creates the table when it is missing, or upgrades it, in one statement under an advisory lock: safe to run from several processes at once, and while stores keep using the table (they wait while it is locked). Refuses a table made by a newer version.',
    options: {
      'dry-run': { type: 'boolean', description: 'print the SQL that would run, and change nothing' },
      'time-zone': {
        type: 'string',
        value: 'ZONE',
        description:
          "upgrading a 10.x table: the TimeZone its connections wrote expiry times in (default: this connection's, normally the server's)",
      },
      'lock-timeout': {
        type: 'string',
        value: 'SECONDS',
        description: 'give up when other sessions keep the table locked this long; 0 waits forever (default: 10)',
      },
      'session-ids': {
        type: 'string',
        value: 'FORM',
        description:
          'how the table stores session ids from schema 2 on, as the stores that use it are configured: sha256 (the default; upgrading hashes the stored ids in place), plain (stores with hashSessionIds: false), or hmac-sha256 (stores with sessionIdPepper; a new table only: `rekey` keys an existing one)',
      },
      ...partitionOptions('a new table: create it'),
    },
    connects: true,
    examples: ['connect-pg-simple migrate --dry-run', 'DATABASE_URL=postgres://app@db/app connect-pg-simple migrate'],
  },
  prune: {
    summary: 'delete expired sessions, in batches',
    description:
      'Deletes expired sessions, one transaction per batch, until none are left; safe alongside stores that prune. Shows progress on stderr when it is a terminal, and prints the total on stdout. Ctrl-C stops after the batch in flight.',
    options: {
      'batch-size': { type: 'string', value: 'N', description: 'rows per batch (default: 1000)' },
      json,
    },
    connects: true,
    examples: ['connect-pg-simple prune --batch-size 5000'],
  },
  reencrypt: {
    summary: 'encrypt every session with the current key (after a key rotation, or turning encryption on)',
    description:
      "Reads the keys from the environment variable CPS_ENCRYPTION_KEYS (the store's encryptionKeys as comma-separated base64, the current key first; never from the command line, which other users can read in the process list), and re-encrypts every live session (and its details, schema 3) not yet under the current key, in batches, each its own transaction; a session a store writes meanwhile keeps the store's write. Needs schema version 2. Shows progress on stderr when it is a terminal, and prints the totals on stdout. Ctrl-C stops after the batch in flight.",
    options: {
      'batch-size': { type: 'string', value: 'N', description: 'rows per batch (default: 500)' },
      json,
    },
    connects: true,
    examples: ['CPS_ENCRYPTION_KEYS="$NEW_KEY,$OLD_KEY" connect-pg-simple reencrypt'],
  },
  sessions: {
    summary: "list a user's live sessions: handle, created, last active, expires, details",
    description:
      "Lists the live sessions of one user (as the stores' userId option records it), latest activity first. A handle names a session without being its id: give it to `revoke --handle`. Last activity is exact to within the stores' lazy-touch window. Details the stores encrypted are shown when CPS_ENCRYPTION_KEYS holds the keys (as for reencrypt). Needs schema version 3.",
    options: {
      user: { type: 'string', value: 'ID', description: 'the user whose sessions to list (required)' },
      json,
    },
    connects: true,
    examples: ['connect-pg-simple sessions --user 42', 'connect-pg-simple sessions --user 42 --json | jq length'],
  },
  revoke: {
    summary: "revoke sessions: all of a user's (but one), or one by its handle",
    description:
      "Deletes every session of a user (after a password change, say), all but the one --except names, or the one session --handle names (with --user as well: only if it is that user's). Final: a request of a revoked session still in flight cannot bring it back. Prints how many live sessions it revoked. Needs schema version 3.",
    options: {
      user: { type: 'string', value: 'ID', description: 'revoke the sessions of this user' },
      except: {
        type: 'string',
        value: 'HANDLE',
        description: 'with --user: keep this session (its handle, as `sessions` lists it)',
      },
      handle: { type: 'string', value: 'HANDLE', description: 'revoke this one session' },
      json,
    },
    connects: true,
    examples: [
      'connect-pg-simple revoke --user 42',
      'connect-pg-simple revoke --user 42 --except 3f0a…',
      'connect-pg-simple revoke --handle 3f0a…',
    ],
  },
  rekey: {
    summary: 'key the stored session ids with the pepper (sha256 or plain ids to hmac-sha256), logging nobody out',
    description:
      "Reads the pepper from the environment variable CPS_SESSION_ID_PEPPER (the stores' sessionIdPepper; never from the command line, which other users can read in the process list) and re-keys a table (schema 2 or later) of sha256 or plain ids to hmac-sha256 ids in JavaScript, so the pepper never enters SQL. First give every store that uses the table the pepper: until the table is re-keyed they find sessions in either form and write the table's. rekey marks the table as re-keying (stores with the pepper then write the new form; stores without it refuse the table within a minute), moves the rows in batches, each its own transaction, then records hmac-sha256. Encrypted sessions (and from schema 3 their details, with the user and activity times moving with the row) are bound to their new id, which needs the keys in CPS_ENCRYPTION_KEYS. Safe to run again: interrupted (Ctrl-C stops after the batch in flight, exit code 130), it goes on where it stopped. A pepper cannot be changed later: the table no longer holds what a new one would key.",
    options: {
      'dry-run': { type: 'boolean', description: 'say what would be re-keyed, and change nothing' },
      'batch-size': { type: 'string', value: 'N', description: 'rows per batch (default: 500)' },
      'pepper-encoding': {
        type: 'string',
        value: 'ENCODING',
        description:
          'how CPS_SESSION_ID_PEPPER holds the pepper: utf8 (the default: the text a store is given), base64 or hex (the bytes of a Buffer a store is given)',
      },
      'lock-timeout': {
        type: 'string',
        value: 'SECONDS',
        description:
          'give up when other sessions keep the table locked this long, at the start and the end; 0 waits forever (default: 10)',
      },
      json,
    },
    connects: true,
    examples: [
      'CPS_SESSION_ID_PEPPER="$PEPPER" connect-pg-simple rekey --dry-run',
      'CPS_SESSION_ID_PEPPER="$PEPPER" CPS_ENCRYPTION_KEYS="$KEYS" connect-pg-simple rekey --batch-size 2000',
    ],
  },
  stats: {
    summary:
      'show session counts, sizes, vacuum state, schema version and how ids and sessions are stored, with advice',
    description:
      "Shows live and expired sessions, table and index sizes, dead row versions and the last (auto)vacuum and analyze from pg_stat_user_tables, the schema version and the layout (for a partitioned table: each partition, its range, estimated rows and whether a prune will drop it), with advice when something looks wrong; and how the table stores session ids (plain, sha256, hmac-sha256, or re-keying, with the rows left) and sessions (encrypted, by key id, or plain JSON: counted from the stored text, without keys). Counting reads the whole table: above 1,000,000 rows the session counts are the planner's estimates instead (say so), unless --exact, and the encryption figures are estimated from a sample.",
    options: {
      json,
      format: {
        type: 'string',
        value: 'FORMAT',
        description:
          'text (the default), json (as --json) or prometheus (the text exposition format, for a textfile collector or a sidecar)',
      },
      watch: {
        type: 'string',
        value: '[SECONDS]',
        optionalValue: '2',
        description: 'read and print the figures again every SECONDS (default 2), until Ctrl-C',
      },
      exact: { type: 'boolean', description: 'count every row, however large the table (reads the whole table)' },
    },
    connects: true,
    examples: [
      'connect-pg-simple stats',
      'connect-pg-simple stats --json | jq .expiredSessions',
      'connect-pg-simple stats --format prometheus > /var/lib/node_exporter/sessions.prom',
      'connect-pg-simple stats --watch 5',
    ],
  },
};
