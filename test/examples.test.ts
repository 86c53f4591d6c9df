import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { startAppProcess } from './support/app-process.js';
import { databaseUrlIn, serverAdmin, uniqueName } from './support/database.js';
import { runToEnd } from './support/doctest.js';
import { Browser } from './support/http.js';

// Every file in examples/ runs here as a user runs it, each in a schema of its own, against the built package.
const root = resolve(__dirname, '..');
const admin = serverAdmin();
const schemas: string[] = [];
const dirs: string[] = [];

async function newSchema(): Promise<string> {
  const schema = uniqueName('cps_example');
  schemas.push(schema);
  await admin.query(`CREATE SCHEMA "${schema}"`);
  return schema;
}

/** The example app keeps a session across two requests: the second sees what the first stored. */
async function keepsASession(file: string, env: Record<string, string | undefined>): Promise<void> {
  const app = await startAppProcess(file, { SESSION_SECRET: 'a secret of at least thirty-two characters', ...env });
  try {
    const browser = new Browser(app.base);
    assert.deepEqual(await browser.get('/'), { status: 200, body: 'views: 1' });
    assert.ok(browser.cookie, 'a session cookie was set');
    assert.deepEqual(await browser.get('/'), { status: 200, body: 'views: 2' });
  } finally {
    await app.stop();
  }
}

const appExamples: Record<string, 'server' | 'pglite'> = {
  'examples/pg.ts': 'server',
  'examples/pg-promise.ts': 'server',
  'examples/postgres.ts': 'server',
  'examples/fastify.mts': 'server',
  'examples/pglite.mts': 'pglite',
  'examples/koa.mts': 'server',
  'examples/hono.mts': 'server',
};

/** Examples that are no server: a module to use from a script, or a script that runs to its end. */
const scriptExamples = ['examples/custom-queryable.ts', 'examples/unstorage.mts', 'examples/opentelemetry.mts'];
/** Servers whose answers are not a page counter: each has a test of its own below. */
const otherServers = ['examples/react-router.mts'];

describe('examples/', { concurrency: 3 }, () => {
  after(async () => {
    for (const schema of schemas) await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    await admin.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('every example is run by this file', () => {
    const files = readdirSync(join(root, 'examples')).filter((f) => /\.m?ts$/.test(f));
    assert.deepEqual(
      files.map((f) => `examples/${f}`).sort(),
      [...Object.keys(appExamples), ...scriptExamples, ...otherServers].sort(),
    );
  });

  it('every pg.Pool an example makes has an error listener (without one, Node.js exits when a connection dies)', () => {
    for (const file of [...Object.keys(appExamples), ...scriptExamples, ...otherServers, 'examples/demo/server.mjs']) {
      const code = readFileSync(join(root, file), 'utf8');
      const pools = code.match(/new (pg\.)?Pool\(/g)?.length ?? 0;
      const listeners = code.match(/\.on\('error'/g)?.length ?? 0;
      assert.ok(listeners >= pools, `${file} makes a pg.Pool without pool.on('error', …)`);
    }
  });

  for (const [file, database] of Object.entries(appExamples)) {
    it(`${file} keeps a session over HTTP`, async () => {
      if (database === 'server') {
        const schema = await newSchema();
        await keepsASession(file, { DATABASE_URL: databaseUrlIn(schema) });
        const [{ n }] = await admin.query(`SELECT count(*)::int AS n FROM "${schema}"."session"`);
        assert.equal(n, 1, 'the session is in its table');
      } else {
        const parent = mkdtempSync(join(tmpdir(), 'cps-example-'));
        dirs.push(parent);
        // A data directory whose parents do not exist yet, as on a fresh clone.
        await keepsASession(file, { DATABASE_URL: undefined, PGLITE_DATA_DIR: join(parent, '.data', 'sessions') });
      }
    });
  }

  it('examples/custom-queryable.ts: a store over any object with query()', async () => {
    const schema = await newSchema();
    await admin.query(
      `SET search_path TO "${schema}"; ${readFileSync(join(root, 'table.sql'), 'utf8')}; RESET search_path`,
    );
    const url = new URL(databaseUrlIn(schema));
    // The example's pg.Pool() takes pg's PG* variables, as the README says.
    const env = {
      ...process.env,
      PGHOST: url.hostname,
      PGPORT: url.port || '5432',
      PGUSER: decodeURIComponent(url.username),
      PGPASSWORD: decodeURIComponent(url.password),
      PGDATABASE: url.pathname.slice(1),
      PGOPTIONS: url.searchParams.get('options') ?? '',
    };
    const script = `
      const example = await import('./examples/custom-queryable.ts');
      const { store } = example.store ? example : example.default; // a CommonJS module, through tsx
      await store.set('example', { cookie: { maxAge: 60000 }, views: 1 });
      console.log(JSON.stringify(await store.get('example')));
      await store.close();
      process.exit(0);`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.deepEqual(JSON.parse(out), { cookie: { maxAge: 60000 }, views: 1 });
  });

  /** Runs an ES module script with tsx in the project's root, on a schema of its own; its standard output. */
  async function runScript(script: string): Promise<string> {
    const schema = await newSchema();
    return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: databaseUrlIn(schema), SESSION_SECRET: 'a secret' },
      encoding: 'utf8',
      timeout: 60_000,
    });
  }

  it('examples/react-router.mts: served over HTTP, the loader counts, an action signs in, another signs out', async () => {
    const schema = await newSchema();
    const app = await startAppProcess('examples/react-router.mts', {
      DATABASE_URL: databaseUrlIn(schema),
      SESSION_SECRET: 'a secret of at least thirty-two characters',
    });
    try {
      const browser = new Browser(app.base);
      assert.deepEqual(JSON.parse((await browser.get('/')).body), { userId: null, views: 1, error: null });
      assert.equal((await browser.post('/', { userId: 'ada' })).status, 302);
      assert.deepEqual(JSON.parse((await browser.get('/')).body), { userId: 'ada', views: 2, error: null });
      assert.equal((await browser.post('/', { intent: 'logout' })).status, 302);
      assert.deepEqual(JSON.parse((await browser.get('/')).body), { userId: null, views: 1, error: null });
    } finally {
      await app.stop();
    }
  });

  it('the framework examples refuse to start without SESSION_SECRET', async () => {
    for (const file of ['examples/koa.mts', 'examples/hono.mts', 'examples/react-router.mts']) {
      const run = await runToEnd(process.execPath, ['--import', 'tsx', file], {
        cwd: root,
        env: { ...process.env, SESSION_SECRET: undefined, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
        limitMs: 60_000,
      });
      assert.notEqual(run.code, 0, `${file} started:\n${run.output}`);
      assert.match(run.output, /Set SESSION_SECRET to a (long )?random string/, file);
    }
  });

  it('examples/unstorage.mts: runs to its end, reading back what it stored', async () => {
    const out = await runScript(`await import('./examples/unstorage.mts');`);
    assert.match(out, /user: 'ada'/);
  });

  // test/opentelemetry.test.ts checks each span and metric; this runs it as an app would, with the package.
  it('examples/opentelemetry.mts: a span for each operation of a store', async () => {
    const script = `
      const { instrumentSessions } = await import('./examples/opentelemetry.mts');
      const { metrics } = await import('@opentelemetry/api');
      const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
      const { PGStore } = (await import('connect-pg-simple')).default;
      const spans = new InMemorySpanExporter();
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
      const stop = instrumentSessions({ tracer: provider.getTracer('app'), meter: metrics.getMeter('app') });
      const store = new PGStore({ createTableIfMissing: true, pruneSessionInterval: false });
      await store.set('example', { cookie: { maxAge: 60000 } });
      await store.get('example');
      await store.close();
      stop();
      console.log(JSON.stringify(spans.getFinishedSpans().map((span) => span.name)));
      process.exit(0);`;
    assert.deepEqual(JSON.parse(await runScript(script)), ['session set', 'session get']);
  });
});
