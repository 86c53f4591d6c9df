import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import type { TableState } from '../src/schema/ensure.js';
import { pepperIdOf } from '../src/session-id.js';
import { type Statement, tableNames } from '../src/sql.js';
import { currentStatements, currentUserStatements } from '../src/statements/current.js';
import {
  type TransitionalSet,
  transitionalStatements,
  transitionalUserStatements,
} from '../src/statements/transitional.js';
import { type SetupOptions, type StatementMode, type TableSetup, tableSetup } from '../src/table-setup.js';
import { tableState } from './support/table-state.js';

// Pure: no database. Every statement of every mode (of every set of the transitional mode), as the
// store would send it to "app"."session", pinned in test/snapshots/<mode>.sql: a change to any SQL
// text shows in review. After a deliberate change, regenerate them with UPDATE_SNAPSHOTS=1 and read the diff.
const SNAPSHOTS = resolve(__dirname, 'snapshots');
const names = tableNames('session', 'app');
const defaults: SetupOptions = {
  idForm: 'sha256',
  sessionIdPepper: undefined,
  synchronousCommit: true,
  absoluteTimeoutSeconds: undefined,
  partitioning: undefined,
};
const pepper = Buffer.from('a pepper of at least sixteen bytes');
const peppered: SetupOptions = { ...defaults, idForm: 'hmac-sha256', sessionIdPepper: pepper };
const partitioning = { widthSeconds: 86_400, lifetimeSeconds: 7 * 86_400 };

interface Case {
  readonly title: string;
  readonly state: TableState;
  readonly options: SetupOptions;
}

/** A table of each set of the transitional mode, as a table check finds it: every set is pinned. */
const TRANSITIONAL: Readonly<Record<TransitionalSet, Case>> = {
  '10.x table, ids as given': {
    title: 'a 10.x table, a store with hashSessionIds: false',
    state: tableState(0),
    options: { ...defaults, idForm: 'plain' },
  },
  '10.x table, plain or hashed ids': {
    title: 'a 10.x table, a store that hashes ids',
    state: tableState(0),
    options: defaults,
  },
  '10.x table, id candidates': {
    title: 'a 10.x table, a store with sessionIdPepper',
    state: tableState(0),
    options: peppered,
  },
  'schema 2': { title: 'schema 2, sha256 ids', state: tableState(2, 'sha256'), options: defaults },
  'schema 2, id candidates': {
    title: 'schema 2, sha256 ids, a store with sessionIdPepper (before and while rekey)',
    state: tableState(2, 'sha256'),
    options: peppered,
  },
  'schema 2, partitioned': {
    title: 'schema 2, sha256 ids, partitioned',
    state: tableState(2, 'sha256', partitioning),
    options: defaults,
  },
  'schema 2, partitioned, id candidates': {
    title: 'schema 2, sha256 ids, partitioned, a store with sessionIdPepper',
    state: tableState(2, 'sha256', partitioning),
    options: peppered,
  },
  'current schema, id candidates': {
    title: 'schema 3, sha256 ids, a store with sessionIdPepper (before and while rekey)',
    state: tableState(3, 'sha256'),
    options: peppered,
  },
  'current schema, partitioned, id candidates': {
    title: 'schema 3, sha256 ids, partitioned, a store with sessionIdPepper',
    state: tableState(3, 'sha256', partitioning),
    options: peppered,
  },
};

/** The tables each mode serves, as a table check finds them: the switch in table-setup.ts picks the mode (and set). */
const CASES: Readonly<Record<StatementMode, readonly Case[]>> = {
  current: [{ title: 'schema 3, sha256 ids', state: tableState(3, 'sha256'), options: defaults }],
  partitioned: [
    { title: 'schema 3, sha256 ids, partitioned', state: tableState(3, 'sha256', partitioning), options: defaults },
  ],
  transitional: Object.values(TRANSITIONAL),
};

/** What a case's snapshot is headed with: its set's name in the transitional mode, and the table. */
function heading(setup: TableSetup, table: Case): string {
  return setup.transitionalSet === undefined ? table.title : `${setup.transitionalSet} (${table.title})`;
}

function setupOf({ state, options }: Case): TableSetup {
  const ids = {
    form: options.idForm,
    pepperId: options.sessionIdPepper === undefined ? undefined : pepperIdOf(options.sessionIdPepper),
  };
  return tableSetup(names, state, ids, options);
}

function rendered(statements: object | undefined): string[] {
  return Object.entries(statements ?? {})
    .filter((entry): entry is [string, Statement] => entry[1] !== undefined)
    .map(([purpose, { name, text }]) => `-- ${purpose} (${name.replace(/_[0-9a-f]{12}$/, '')})\n${text};\n`);
}

function renderMode(mode: StatementMode): string {
  return CASES[mode]
    .map((table) => {
      const setup = setupOf(table);
      assert.equal(setup.mode, mode, `${table.title}: served by the ${mode} mode`);
      const users =
        setup.userStatements === undefined
          ? ['-- (no statements of sessions per user)\n']
          : rendered(setup.userStatements);
      return [`---- ${heading(setup, table)}\n`, ...rendered(setup.statements), ...users].join('\n');
    })
    .join('\n');
}

describe('statement modes (no database)', () => {
  it('the switch in table-setup.ts serves each table of the transitional cases by the set it is pinned under', () => {
    for (const [set, table] of Object.entries(TRANSITIONAL)) {
      assert.equal(setupOf(table).transitionalSet, set, table.title);
    }
  });

  for (const mode of Object.keys(CASES) as StatementMode[]) {
    it(`every statement of the ${mode} mode is as test/snapshots/${mode}.sql pins it`, () => {
      const file = resolve(SNAPSHOTS, `${mode}.sql`);
      const text = renderMode(mode);
      if (process.env.UPDATE_SNAPSHOTS === '1') writeFileSync(file, text);
      assert.equal(
        text,
        readFileSync(file, 'utf8'),
        `${mode}: run with UPDATE_SNAPSHOTS=1 to accept a deliberate change`,
      );
    });
  }

  // Settings other than the defaults, and a text written with them turned back into the defaults' text.
  const otherSettings = { absoluteTimeoutSeconds: 3600, synchronousCommit: false, storedIdIsHandle: false };
  const valuesOnly = (text: string) =>
    text
      .replaceAll('secs => 3600::float8', 'secs => NULL::float8')
      .replaceAll(
        "set_config('synchronous_commit', 'off', true)",
        "set_config('synchronous_commit', current_setting('synchronous_commit'), true)",
      )
      .replaceAll("encode(sha256(convert_to(sid, 'UTF8')), 'hex')", 'sid');

  it('the current mode has one text per statement: settings change only the values written into it', () => {
    const plain = [...rendered(currentStatements(names)), ...rendered(currentUserStatements(names))];
    const varied = [
      ...rendered(currentStatements(names, otherSettings)),
      ...rendered(currentUserStatements(names, otherSettings)),
    ];
    assert.deepEqual(varied.map(valuesOnly), plain);
  });

  it('so has each set of the transitional mode', () => {
    for (const set of Object.keys(TRANSITIONAL) as TransitionalSet[]) {
      const texts = (settings = {}) => [
        ...rendered(transitionalStatements(names, set, settings)),
        ...rendered(transitionalUserStatements(names, set, settings)),
      ];
      assert.deepEqual(texts(otherSettings).map(valuesOnly), texts(), set);
    }
  });

  it('each distinct text has its own prepared statement name', () => {
    const byName = new Map<string, string>();
    for (const mode of Object.keys(CASES) as StatementMode[]) {
      for (const table of CASES[mode]) {
        const setup = setupOf(table);
        for (const statement of [...Object.values(setup.statements), ...Object.values(setup.userStatements ?? {})]) {
          if (statement === undefined) continue;
          const seen = byName.get(statement.name);
          assert.ok(seen === undefined || seen === statement.text, `${statement.name} names two texts`);
          byName.set(statement.name, statement.text);
        }
      }
    }
  });
});
