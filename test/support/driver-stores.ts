import assert from 'node:assert/strict';
import { after, afterEach, before } from 'node:test';
import connectPgSimple from '../../src/index.js';
import { serverAdmin, uniqueName } from './database.js';
import { type DriverHarness, drivers } from './drivers.js';

const { PGStore } = connectPgSimple;
export type Store = InstanceType<typeof PGStore>;

/** A suite's stores on one driver, in a schema of their own. Call at the top of a `describe`. */
export interface DriverStores {
  /** The driver, set up before the suite's first test. */
  readonly harness: DriverHarness;
  readonly schemaName: string;
  /** What the stores logged (errorLog). */
  readonly logged: unknown[][];
  /** A store on the driver in the suite's schema: `defaults`, then `options`. Closed after its test. */
  newStore(options?: Record<string, unknown>): Store;
  /** A statement of the test's own, outside the stores. */
  q(text: string, values?: unknown[]): Promise<any[]>;
  /** `"schema"."name"`. */
  table(name?: string): string;
}

export function useDriverStores(
  driverName: keyof typeof drivers & string,
  schemaPrefix: string,
  defaults: Record<string, unknown> = {},
  { nothingLogged = false }: { nothingLogged?: boolean } = {},
): DriverStores {
  let harness: DriverHarness | undefined;
  const schemaName = uniqueName(schemaPrefix);
  const stores: Store[] = [];
  const logged: unknown[][] = [];
  const q = (text: string, values?: unknown[]) => harness!.admin.query(text, values);
  before(async () => {
    harness = await drivers[driverName]!();
    await q(`CREATE SCHEMA "${schemaName}"`);
  });
  // Each test's stores end with it: they hold connections (a pipelined store, one for good).
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    if (nothingLogged) assert.deepEqual(logged.splice(0), [], 'nothing was logged');
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await q(`DROP SCHEMA "${schemaName}" CASCADE`);
    await harness!.close();
  });
  return {
    get harness() {
      return harness!;
    },
    schemaName,
    logged,
    newStore(options = {}) {
      const store = new PGStore({
        ...harness!.storeOptions,
        schemaName,
        createTableIfMissing: true,
        pruneSessionInterval: false,
        errorLog: (...args: unknown[]) => logged.push(args),
        ...defaults,
        ...options,
      });
      stores.push(store);
      return store;
    },
    q,
    table: (name = 'session') => `"${schemaName}"."${name}"`,
  };
}

/**
 * Stores a suite makes with connection options of its own (a pool, a URL, a server that stalls),
 * in a schema of the suite's, and an admin connection beside them. Call at the top of a `describe`.
 */
export function useSchemaStores(schemaPrefix: string, defaults: Record<string, unknown> = {}) {
  const admin = serverAdmin();
  const schemaName = uniqueName(schemaPrefix);
  const stores: Store[] = [];
  before(() => admin.query(`CREATE SCHEMA "${schemaName}"`));
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await admin.close();
  });
  return {
    admin,
    schemaName,
    /** A store in the suite's schema, closed at its end: `defaults`, then `options` (its connection). */
    newStore(options: Record<string, unknown>): Store {
      const store = new PGStore({
        schemaName,
        createTableIfMissing: true,
        pruneSessionInterval: false,
        ...defaults,
        ...options,
      });
      stores.push(store);
      return store;
    },
    table: (name: string) => `"${schemaName}"."${name}"`,
  };
}
