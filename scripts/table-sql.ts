// Writes table.sql from the schema source (src/schema/ddl.ts); with --check, fails if it drifted.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { tableSqlScript } from '../src/schema/ddl.js';
import { tableNames } from '../src/sql.js';

const header = `-- The session table of connect-pg-simple, for the default name "session".
-- Run it with: psql mydatabase < node_modules/connect-pg-simple/table.sql
-- It creates the table when it is missing; run again, it changes nothing (upgrades: npx connect-pg-simple migrate).
-- Generated from src/schema/ddl.ts by \`npm run table-sql\`; for other names: npx connect-pg-simple schema --table NAME
`;
const expected = `${header}\n${tableSqlScript(tableNames('session'))}`;
const path = resolve(__dirname, '../table.sql');

if (process.argv.includes('--check')) {
  let actual = '';
  try {
    actual = readFileSync(path, 'utf8');
  } catch {}
  if (actual !== expected) {
    console.error('table.sql differs from src/schema/ddl.ts: run `npm run table-sql` and commit the result');
    process.exit(1);
  }
  console.log('table.sql matches the schema source');
} else {
  writeFileSync(path, expected);
  console.log('wrote table.sql');
}
