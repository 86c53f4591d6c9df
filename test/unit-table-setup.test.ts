import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SCHEMA_VERSION } from '../src/schema/ddl.js';
import { pepperIdOf } from '../src/session-id.js';
import { tableNames } from '../src/sql.js';
import { layoutNote, type SetupOptions, tableModeNote, tableSetup } from '../src/table-setup.js';
import { tableState } from './support/table-state.js';

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
const ids = (options: SetupOptions) => ({
  form: options.idForm,
  pepperId: options.sessionIdPepper === undefined ? undefined : pepperIdOf(options.sessionIdPepper),
});

describe('how a store uses the table a check found, without a database', () => {
  it('a default store on a current table: its own ids, sessions per user, and a look again every minute', () => {
    const setup = tableSetup(names, tableState(3, 'sha256'), ids(defaults), defaults);
    assert.equal(setup.idMode, 'own');
    assert.equal(setup.recheckMs, 60_000, 'a rekey may start: the store must notice it');
    assert.notEqual(setup.userStatements, undefined);
    assert.match(setup.statements.get.text, /user_id/);
    assert.equal(tableModeNote(names, defaults, setup, undefined), undefined);
  });

  it('a store with the pepper on a re-keyed table: settled, no more looks', () => {
    const setup = tableSetup(names, tableState(SCHEMA_VERSION, 'hmac-sha256'), ids(peppered), peppered);
    assert.equal(setup.idMode, 'own');
    assert.equal(setup.recheckMs, undefined);
  });

  it('a store with the pepper on a table of sha256 ids: candidates, looked at every 5 s, said once', () => {
    const setup = tableSetup(names, tableState(3, 'sha256'), ids(peppered), peppered);
    assert.equal(setup.idMode, 'candidates sha256');
    assert.equal(setup.recheckMs, 5_000);
    assert.match(setup.statements.get.text, /sid = ANY\(\$1::text\[\]\)/);
    assert.match(tableModeNote(names, peppered, setup, undefined) ?? '', /stores session ids as sha256.*rekey/);
    assert.equal(tableModeNote(names, peppered, setup, setup.idMode), undefined, 'said once');
  });

  it('a table before schema 2: legacy ids, no sessions per user, and a note of what waits for the migration', () => {
    const options = { ...defaults, absoluteTimeoutSeconds: 3600 };
    const setup = tableSetup(names, tableState(1, undefined), ids(options), options);
    assert.equal(setup.idMode, 'legacy');
    assert.equal(setup.userStatements, undefined);
    assert.match(
      tableModeNote(names, options, setup, undefined) ?? '',
      /schema version 1: session ids are stored as given, not hashed, and absoluteTimeout is not enforced until it is migrated/,
    );
  });

  it("a partitioned table cuts a longer absoluteTimeout to its partitions' lifetime, and says so", () => {
    const partitioning = { widthSeconds: 86_400, lifetimeSeconds: 7 * 86_400 };
    const options = { ...defaults, absoluteTimeoutSeconds: 30 * 86_400 };
    const setup = tableSetup(names, tableState(3, 'sha256', partitioning), ids(options), options);
    assert.deepEqual(setup.partitioning, partitioning);
    assert.match(setup.statements.get.text, /make_interval\(secs => 604800::float8\)/);
    assert.match(layoutNote(names, options, setup) ?? '', /absoluteTimeout of 2592000 s is cut to that/);
    const asked = { ...defaults, partitioning };
    const plain = tableSetup(names, tableState(3, 'sha256'), ids(asked), asked);
    assert.match(layoutNote(names, asked, plain) ?? '', /already exists and is not partitioned/);
  });
});
