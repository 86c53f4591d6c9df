import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AppProcess, startAppProcess } from './support/app-process.js';
import { databaseUrlIn, serverAdmin, uniqueName } from './support/database.js';
import { Browser } from './support/http.js';

/** The demo (`npm start`), run as a user runs it, over real HTTP. */
async function signInAndOut(demo: AppProcess): Promise<void> {
  const browser = new Browser(demo.base);
  const first = await browser.get('/');
  assert.equal(first.status, 200);
  assert.match(first.body, /Not signed in[\s\S]*<strong>1<\/strong> time/);

  // A form post without a body: no crash, signed in as "someone".
  assert.equal((await browser.post('/login')).status, 303);
  assert.match((await browser.get('/')).body, /Signed in as <strong>someone<\/strong>/);

  assert.equal((await browser.post('/login', { name: '  Zoë <b>  ' })).status, 303);
  assert.match((await browser.get('/')).body, /Signed in as <strong>Zoë &lt;b&gt;<\/strong>/);

  assert.equal((await browser.post('/logout')).status, 303);
  assert.match((await browser.get('/')).body, /Not signed in/);
}

describe('the demo app (npm start)', { concurrency: 2 }, () => {
  const admin = serverAdmin();
  const schema = uniqueName('cps_demo');
  const dataDirs: string[] = [];
  before(() => admin.query(`CREATE SCHEMA "${schema}"`));
  after(async () => {
    await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    await admin.close();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('on DATABASE_URL: signs in (with or without a name) and out, and stops cleanly', async () => {
    const demo = await startAppProcess('examples/demo/server.mjs', { DATABASE_URL: databaseUrlIn(schema) });
    try {
      await signInAndOut(demo);
      const [{ n }] = await admin.query(`SELECT count(*)::int AS n FROM "${schema}"."session"`);
      assert.ok(n >= 1, 'the sessions are in the database');
    } finally {
      assert.equal(await demo.stop(), 0, demo.output());
    }
  });

  it('without DATABASE_URL: on PGlite, in a data directory it creates', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'cps-demo-'));
    dataDirs.push(parent);
    const demo = await startAppProcess('examples/demo/server.mjs', {
      DATABASE_URL: undefined,
      DEMO_DATA_DIR: join(parent, 'not', 'yet', 'there'),
    });
    try {
      await signInAndOut(demo);
      assert.match((await new Browser(demo.base).get('/')).body, /Database: <code>PGlite in-process/);
    } finally {
      assert.equal(await demo.stop(), 0, demo.output());
    }
  });
});
