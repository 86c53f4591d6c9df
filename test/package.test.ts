import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { PGStore } from '../src/index.js';
import { databaseUrl, uniqueName } from './support/database.js';
import { skipUnlessInstalled } from './support/system-tools.js';

function psqlMissing(): string | undefined {
  try {
    execFileSync('psql', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return "psql is absent (Debian's postgresql-client package)";
  }
}

// The built package, loaded by its own name the way users load it (npm test builds first).
const root = resolve(__dirname, '..');
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();

describe('the published entry points', () => {
  it('require() gives the factory itself, as in 10.x', () => {
    const out = run([
      '-e',
      `const session = require('express-session');
       const connectPgSimple = require('connect-pg-simple');
       const Store = connectPgSimple(session);
       const store = new Store({ pool: { query: async () => ({ rows: [] }) }, pruneSessionInterval: false });
       console.log(typeof connectPgSimple, store instanceof session.Store, typeof connectPgSimple.PGStore, 'default' in connectPgSimple);`,
    ]);
    assert.equal(out, 'function true function false');
  });

  it('import gives the same factory as default export, and the class by name', () => {
    const out = run([
      '--input-type=module',
      '-e',
      `import connectPgSimple, { PGStore } from 'connect-pg-simple';
       import { createRequire } from 'node:module';
       const cjs = createRequire(process.cwd() + '/x.js')('connect-pg-simple');
       console.log(connectPgSimple === cjs, PGStore === cjs.PGStore, typeof connectPgSimple);`,
    ]);
    assert.equal(out, 'true true function');
  });

  it('each framework adapter loads by its subpath, the same objects from require() and import', () => {
    const entries = {
      'connect-pg-simple/koa': ['KoaPGStore'],
      'connect-pg-simple/hono': ['HonoPGStore'],
      'connect-pg-simple/react-router': ['createPostgresSessionStorage'],
      'connect-pg-simple/unstorage': ['postgresDriver', 'default'],
    };
    const out = run([
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
       const require = createRequire(process.cwd() + '/x.js');
       const entries = ${JSON.stringify(entries)};
       const results = [];
       for (const [entry, names] of Object.entries(entries)) {
         const esm = await import(entry);
         const cjs = require(entry);
         for (const name of names) {
           const fromCjs = name === 'default' ? cjs.postgresDriver : cjs[name];
           results.push(typeof esm[name] === 'function' && esm[name] === fromCjs);
         }
       }
       console.log(results.join(' '));`,
    ]);
    assert.equal(out, 'true true true true true');
  });

  it('every entry point exports the error classes: one class each, from require() and import, all PGStoreErrors', () => {
    const names = [
      'PGStoreError',
      'StoreClosedError',
      'OperationTimeoutError',
      'ConnectionError',
      'ConnectTimeoutError',
      'SchemaError',
      'CorruptSessionError',
      'DecryptionError',
    ];
    const out = run([
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
       const require = createRequire(process.cwd() + '/x.js');
       const entries = ['connect-pg-simple', 'connect-pg-simple/koa', 'connect-pg-simple/hono',
         'connect-pg-simple/react-router', 'connect-pg-simple/unstorage'];
       const base = require('connect-pg-simple');
       const problems = [];
       for (const entry of entries) {
         const esm = await import(entry);
         const cjs = require(entry);
         for (const name of ${JSON.stringify(names)}) {
           const same = typeof esm[name] === 'function' && esm[name] === cjs[name] && cjs[name] === base[name];
           const derived = esm[name]?.prototype instanceof base.PGStoreError || esm[name] === base.PGStoreError;
           if (!same || !derived) problems.push(entry + ' ' + name);
         }
       }
       console.log(problems.join(', ') || 'none');`,
    ]);
    assert.equal(out, 'none');
  });

  it('ships table.sql at the package root', () => {
    const manifest = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
    assert.ok(manifest.files.includes('table.sql'));
    assert.ok(existsSync(resolve(root, 'table.sql')));
    assert.match(
      run(['-p', "require('fs').readFileSync(require.resolve('connect-pg-simple/table.sql'), 'utf8')"]),
      /CREATE TABLE IF NOT EXISTS "session"/,
    );
  });

  it('table.sql runs as a plain script (as psql would run it) and the store works on the result', async () => {
    const schemaName = uniqueName('cps_tablesql');
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA "${schemaName}"; SET search_path TO "${schemaName}"`);
      await client.query(readFileSync(resolve(root, 'table.sql'), 'utf8'));
      const store = new PGStore({ pool: client, schemaName, pruneSessionInterval: false });
      await store.set('t', { cookie: {}, ok: true } as any);
      assert.deepEqual(await store.get('t'), { cookie: {}, ok: true });
      // Run again: no error, a notice, and the table and its session as they were.
      const notices: string[] = [];
      client.on('notice', (notice) => notices.push(notice.message ?? ''));
      await client.query(readFileSync(resolve(root, 'table.sql'), 'utf8'));
      assert.deepEqual(notices, [
        'table "session" exists already: nothing was changed (an older version is upgraded with npx connect-pg-simple migrate)',
      ]);
      assert.deepEqual(await store.get('t'), { cookie: {}, ok: true });
      await store.close();
    } finally {
      await client.query(`DROP SCHEMA "${schemaName}" CASCADE`);
      await client.end();
    }
  });

  it('table.sql run twice with psql -f: the second run changes nothing and fails nothing', async (t) => {
    const missing = skipUnlessInstalled(psqlMissing(), 'table.sql check');
    if (missing) return t.skip(missing);
    const schemaName = uniqueName('cps_tablesql_psql');
    const admin = new pg.Client({ connectionString: databaseUrl() });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA "${schemaName}"`);
      const psql = () =>
        execFileSync('psql', [databaseUrl(), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', resolve(root, 'table.sql')], {
          encoding: 'utf8',
          env: { ...process.env, PGOPTIONS: `-c search_path=${schemaName}` },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      psql();
      await admin.query(
        `INSERT INTO "${schemaName}"."session" (sid, sess, expire) VALUES ('kept', '{}', now() + interval '1 hour')`,
      );
      psql(); // throws on a non-zero exit, as ON_ERROR_STOP makes any error
      const [{ n }] = (await admin.query(`SELECT count(*)::int AS n FROM "${schemaName}"."session"`)).rows;
      assert.equal(n, 1, 'the row written between the runs is still there');
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${schemaName}" CASCADE`);
      await admin.end();
    }
  });

  it('npm pack ships the built code: prepack builds it, so a clean clone packs dist/ too', () => {
    const manifest = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
    assert.match(manifest.scripts.prepack, /npm run build/);
    // --ignore-scripts: npm test has just built dist/; what matters here is which files the tarball takes.
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }),
    );
    const files = new Set(packed.files.map((f: { path: string }) => f.path));
    for (const file of [
      'dist/index.js',
      'dist/index.d.ts',
      'esm/index.mjs',
      'esm/index.d.mts',
      'table.sql',
      'README.md',
      'docs/operations.md', // the README links to docs/: readable in node_modules too
    ]) {
      assert.ok(files.has(file), `the package ships ${file}`);
    }
    assert.ok(![...files].some((f) => String(f).startsWith('test/') || String(f).startsWith('src/')));
  });

  it('names its repository, homepage and issue tracker, so relative links in the README work on the registry', () => {
    const manifest = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
    const repository = new URL(manifest.repository.url.replace(/^git\+/, ''));
    const base = repository.href.replace(/\.git$/, '');
    assert.equal(manifest.homepage, `${base}#readme`);
    assert.equal(manifest.bugs.url, `${base}/issues`);
  });
});
