import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type AppProcess, startAppProcess } from './support/app-process.js';
import { databaseUrlIn, eventually, serverAdmin, uniqueName } from './support/database.js';
import { runToEnd } from './support/doctest.js';
import { Browser, mergeCookies } from './support/http.js';
import { TcpProxy } from './support/tcp-proxy.js';

/** The demo (`npm start`), run as a user runs it, over real HTTP. */

const FIREFOX_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME_ON_MACOS =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SAFARI_ON_IOS =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

/** A visitor with a cookie jar who sends forms with the CSRF token of the last page seen. */
class Visitor {
  readonly browser: Browser;
  token: string | undefined;
  body = '';

  constructor(base: string, userAgent?: string) {
    this.browser = new Browser(base, userAgent ? { 'user-agent': userAgent } : {});
  }

  async open(path: string): Promise<number> {
    const { status, body } = await this.browser.get(path);
    this.body = body;
    this.token = body.match(/name="_csrf" value="([^"]+)"/)?.[1] ?? this.token;
    return status;
  }

  /** A form post with the page's token; the status, and the page (a redirect is not followed). */
  async submit(path: string, form: Record<string, string> = {}): Promise<number> {
    assert.ok(this.token, `a page with a form was opened before posting to ${path}`);
    const { status, body } = await this.browser.post(path, { _csrf: this.token, ...form });
    this.body = body;
    return status;
  }

  /** The devices on the account page: each row's label, whether it is marked as this one, and its handle. */
  async devices(): Promise<Array<{ label: string; current: boolean; handle: string }>> {
    assert.equal(await this.open('/account'), 200);
    return [
      ...this.body.matchAll(
        /<tr class="(current)?">\s*<td><strong>([^<]*)<\/strong>[\s\S]*?name="handle" value="([^"]+)"/g,
      ),
    ].map(([, current, label, handle]) => ({ label: label!, current: current === 'current', handle: handle! }));
  }

  async signedInAs(): Promise<string | undefined> {
    assert.equal(await this.open('/'), 200);
    return this.body.match(/Signed in as <strong>([^<]*)<\/strong>/)?.[1];
  }
}

/** Posts a form with the visitor's cookie and token and, as soon as the redirect's headers are in, loads where it leads. */
async function postAndFollow(
  base: string,
  visitor: Visitor,
  path: string,
  form: Record<string, string>,
): Promise<string> {
  const cookie = visitor.browser.cookie!;
  const posted = await fetch(base + path, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie },
    body: new URLSearchParams({ _csrf: visitor.token!, ...form }),
  });
  assert.equal(posted.status, 303, path);
  const next = await fetch(base + posted.headers.get('location'), {
    headers: { cookie: mergeCookies(cookie, posted.headers.getSetCookie()) ?? '' },
  });
  await posted.text();
  return next.text();
}

async function signUp(base: string, username: string, password: string, userAgent?: string): Promise<Visitor> {
  const visitor = new Visitor(base, userAgent);
  await visitor.open('/');
  assert.equal(await visitor.submit('/signup', { username, password }), 303, visitor.body);
  return visitor;
}

async function signIn(base: string, username: string, password: string, userAgent?: string): Promise<Visitor> {
  const visitor = new Visitor(base, userAgent);
  await visitor.open('/');
  assert.equal(await visitor.submit('/login', { username, password }), 303, visitor.body);
  return visitor;
}

/** Sign up, the counter, sign out, a wrong password, sign in: what every database the demo runs on must do. */
async function signUpCountAndSignIn(base: string): Promise<void> {
  const visitor = new Visitor(base);
  assert.equal(await visitor.open('/'), 200);
  assert.match(visitor.body, /Not signed in\.[\s\S]*<strong>1<\/strong> time/);
  assert.equal(await visitor.open('/'), 200);
  assert.match(visitor.body, /<strong>2<\/strong> time/, 'the counter counts');

  assert.equal(await visitor.submit('/signup', { username: 'zoë', password: 'correct horse' }), 303, visitor.body);
  assert.equal(await visitor.signedInAs(), 'zoë');
  assert.match(visitor.body, /<strong>1<\/strong> time/, 'signing in starts a new session');
  assert.equal(await visitor.submit('/logout'), 303);
  assert.equal(await visitor.signedInAs(), undefined);

  assert.equal(await visitor.submit('/login', { username: 'zoë', password: 'wrong horse' }), 401);
  assert.match(visitor.body, /Wrong username or password/);
  assert.equal(await visitor.submit('/login', { username: 'Zoë ', password: 'correct horse' }), 303, visitor.body);
  assert.equal(await visitor.signedInAs(), 'zoë', 'a username is found whatever its case');
}

describe('the demo app (npm start)', { concurrency: 2 }, () => {
  const admin = serverAdmin();
  const schemas: string[] = [];
  const dataDirs: string[] = [];
  after(async () => {
    for (const schema of schemas) await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    await admin.close();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  /** The demo on DATABASE_URL, in a schema of its own. */
  async function startOnServer(): Promise<{ demo: AppProcess; schema: string }> {
    const schema = uniqueName('cps_demo');
    schemas.push(schema);
    await admin.query(`CREATE SCHEMA "${schema}"`);
    return { demo: await startAppProcess('examples/demo/server.mjs', { DATABASE_URL: databaseUrlIn(schema) }), schema };
  }

  it('on DATABASE_URL: sign up, the counter, a wrong password, sign in, and stops cleanly', async () => {
    const { demo, schema } = await startOnServer();
    try {
      await signUpCountAndSignIn(demo.base);
      const [{ n }] = await admin.query(`SELECT count(*)::int AS n FROM "${schema}"."session"`);
      assert.ok(n >= 1, 'the sessions are in the database');
      const [account] = await admin.query(`SELECT username, password_hash FROM "${schema}".demo_account`);
      assert.equal(account.username, 'zoë');
      assert.match(account.password_hash, /^scrypt\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'only a hash is stored');
    } finally {
      assert.equal(await demo.stop(), 0, demo.output());
    }
  });

  it("on DATABASE_URL: where you're signed in lists the user's devices, and signs them out", async () => {
    const { demo, schema } = await startOnServer();
    try {
      const firefox = await signUp(demo.base, 'ada', 'analytical engine', FIREFOX_ON_WINDOWS);
      const chrome = await signIn(demo.base, 'ada', 'analytical engine', CHROME_ON_MACOS);

      const seenByFirefox = await firefox.devices();
      assert.deepEqual(
        seenByFirefox.map(({ label, current }) => ({ label, current })),
        [
          { label: 'Firefox 133 on Windows', current: true },
          { label: 'Chrome 131 on macOS', current: false },
        ],
      );
      assert.match(firefox.body, /IP 127\.0\.0\.1/);
      assert.match(firefox.body, /Signed in as <strong>ada<\/strong> on 2 device\(s\)/);
      const seenByChrome = await chrome.devices();
      assert.deepEqual(
        seenByChrome.map(({ label, current }) => ({ label, current })),
        [
          { label: 'Chrome 131 on macOS', current: true },
          { label: 'Firefox 133 on Windows', current: false },
        ],
      );
      assert.deepEqual(new Set(seenByChrome.map((d) => d.handle)), new Set(seenByFirefox.map((d) => d.handle)));
      const cookieIds = [firefox, chrome].map((v) => decodeURIComponent(v.browser.cookie!).match(/s:([^.]+)\./)![1]!);
      for (const { handle } of seenByFirefox) assert.ok(!cookieIds.includes(handle), 'a handle is never a cookie id');

      const [{ users }] = await admin.query(
        `SELECT count(*)::int AS users FROM "${schema}"."session" WHERE user_id = (SELECT id::text FROM "${schema}".demo_account)`,
      );
      assert.equal(users, 2, 'the store keeps the user of both sessions');

      // Another user's handle revokes nothing, even with a valid form.
      const grace = await signUp(demo.base, 'grace', 'compiler first', SAFARI_ON_IOS);
      const [graceDevice, ...none] = await grace.devices();
      assert.deepEqual([graceDevice?.label, none], ['Safari 18 on iOS', []], "only grace's own device");
      assert.equal(await firefox.submit('/account/sign-out-device', { handle: graceDevice!.handle }), 303);
      assert.equal(await firefox.open('/account'), 200);
      assert.match(firefox.body, /That device was already signed out\./);
      assert.equal(await grace.signedInAs(), 'grace');

      // Firefox signs Chrome out; Chrome's next page load is signed out.
      const chromeRow = seenByFirefox.find((d) => !d.current)!;
      assert.equal(await firefox.submit('/account/sign-out-device', { handle: chromeRow.handle }), 303);
      assert.deepEqual(
        (await firefox.devices()).map(({ label }) => label),
        ['Firefox 133 on Windows'],
      );
      assert.match(firefox.body, /Signed out that device\./);
      assert.equal(await chrome.signedInAs(), undefined);
      assert.equal(await chrome.open('/account'), 200, 'the account page sends a signed-out visitor home');
      assert.match(chrome.body, /Not signed in\./);

      // Sign out all other devices: two others go, this one stays.
      const others = [
        await signIn(demo.base, 'ada', 'analytical engine', CHROME_ON_MACOS),
        await signIn(demo.base, 'ada', 'analytical engine'),
      ];
      assert.deepEqual((await firefox.devices()).map(({ label }) => label).sort(), [
        'Chrome 131 on macOS',
        'Firefox 133 on Windows',
        'Node.js',
      ]);
      assert.equal(await firefox.submit('/account/sign-out-others'), 303);
      assert.deepEqual(
        (await firefox.devices()).map(({ label, current }) => ({ label, current })),
        [{ label: 'Firefox 133 on Windows', current: true }],
      );
      assert.match(firefox.body, /Signed out 2 other device\(s\)\./);
      for (const other of others) assert.equal(await other.signedInAs(), undefined);
      assert.equal(await grace.signedInAs(), 'grace', "another user's sessions stay");

      // "Sign out this device" on the current one is a sign-out.
      const [self] = await firefox.devices();
      assert.equal(await firefox.submit('/account/sign-out-device', { handle: self!.handle }), 303);
      assert.equal(await firefox.signedInAs(), undefined);
    } finally {
      assert.equal(await demo.stop(), 0, demo.output());
    }
  });

  it("on DATABASE_URL: the admin page shows the store's live and expired sessions, and prunes", async () => {
    const { demo, schema } = await startOnServer();
    try {
      const table = `"${schema}"."session"`;
      const anonymous = new Visitor(demo.base);
      await anonymous.open('/');
      const visitor = await signUp(demo.base, 'lin', 'kernighan ritchie');
      await admin.query(`UPDATE ${table} SET expire = now() - interval '1 minute' WHERE user_id IS NULL`);
      const counted = async () =>
        (
          await admin.query(
            `SELECT count(*) FILTER (WHERE expire > now())::int AS live, count(*) FILTER (WHERE expire <= now())::int AS expired FROM ${table}`,
          )
        )[0];

      assert.equal(await visitor.open('/admin'), 200);
      const before = await counted();
      assert.ok(before.live >= 1 && before.expired >= 1, JSON.stringify(before));
      assert.match(visitor.body, new RegExp(`id="live-sessions">${before.live}<`));
      assert.match(visitor.body, new RegExp(`id="expired-sessions">${before.expired}<`));
      assert.match(visitor.body, /id="accounts">1</);
      assert.match(visitor.body, /Only the admin sees this page: in this demo, the first account made/);
      assert.match(
        visitor.body,
        /<table class="stack" id="sessions-per-user">[\s\S]*<tr><td>lin<\/td><td data-label="Live sessions">1<\/td>/,
        'sessions per user',
      );
      assert.match(
        visitor.body,
        /<svg class="chart" id="sign-in-chart" [^>]*aria-label="Sign-ins per hour, last 24 hours: 1 signed in, 0 failed"/,
        'the sign-up counts as a sign-in in the chart',
      );
      assert.equal(visitor.body.match(/<g><title>/g)?.length, 24, 'a bar for each hour');

      assert.equal(await visitor.submit('/admin/prune'), 303);
      assert.equal(await visitor.open('/admin'), 200);
      assert.match(visitor.body, new RegExp(`Pruned ${before.expired} expired session\\(s\\)\\.`));
      assert.match(visitor.body, /id="expired-sessions">0</);
      assert.equal((await counted()).expired, 0);

      const signedOut = new Visitor(demo.base);
      assert.equal(await signedOut.open('/admin'), 200);
      assert.match(signedOut.body, /Not signed in\./, 'the admin page sends a signed-out visitor home');

      // Any other account is not the admin: no menu entry, and the page and its form answer 403.
      const other = await signUp(demo.base, 'ken', 'thompson unix');
      assert.equal(await other.signedInAs(), 'ken');
      assert.doesNotMatch(other.body, /href="\/admin"/, 'no Admin link for a user who is not the admin');
      assert.equal(await other.open('/admin'), 403);
      assert.match(other.body, /Only the admin may open this page/);
      assert.equal(await other.submit('/admin/prune'), 403);
      assert.equal(await visitor.open('/'), 200);
      assert.match(visitor.body, /href="\/admin"/, 'the admin has the link');
    } finally {
      assert.equal(await demo.stop(), 0, demo.output());
    }
  });

  it('on DATABASE_URL: failed sign-ins are throttled per username, and a success starts the count again', async () => {
    const { demo } = await startOnServer();
    try {
      const owner = await signUp(demo.base, 'ada', 'analytical engine');
      const attacker = new Visitor(demo.base);
      await attacker.open('/');
      // Four failures, then the right password: the count starts again.
      for (let i = 0; i < 4; i++) {
        assert.equal(await attacker.submit('/login', { username: 'ada', password: `guess ${i}` }), 401);
      }
      assert.equal(await attacker.submit('/login', { username: 'ADA', password: 'analytical engine' }), 303);
      assert.equal(await attacker.signedInAs(), 'ada');
      assert.equal(await attacker.submit('/logout'), 303);
      await attacker.open('/');
      for (let i = 0; i < 5; i++) {
        assert.equal(await attacker.submit('/login', { username: 'ada', password: `guess ${i}` }), 401, attacker.body);
      }
      // The sixth try is refused before the password is looked at, the right one too.
      const refused = await fetch(`${demo.base}/login`, {
        method: 'POST',
        headers: { cookie: attacker.browser.cookie! },
        body: new URLSearchParams({ _csrf: attacker.token!, username: 'Ada', password: 'analytical engine' }),
        redirect: 'manual',
      });
      assert.equal(refused.status, 429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      assert.ok(retryAfter > 14 * 60 && retryAfter <= 15 * 60, `Retry-After: ${retryAfter}`);
      assert.match(await refused.text(), /Too many failed sign-ins for this username: try again in 15 minutes\./);
      // Another username from the same address is still served.
      assert.equal(await attacker.submit('/login', { username: 'grace', password: 'not an account' }), 401);
      // A session signed in before is untouched, and the admin's chart counts every attempt that was checked.
      assert.equal(await owner.open('/admin'), 200);
      assert.match(owner.body, /aria-label="Sign-ins per hour, last 24 hours: 2 signed in, 10 failed"/);
    } finally {
      assert.equal(await demo.stop(), 0, demo.output());
    }
  });

  it('on DATABASE_URL: while the database is away, a page that needs the session says so with a 503, and serves again when it is back', async () => {
    const schema = uniqueName('cps_demo');
    schemas.push(schema);
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const url = new URL(databaseUrlIn(schema));
    const proxy = new TcpProxy(url.hostname, Number(url.port || 5432));
    await proxy.start();
    url.host = `127.0.0.1:${proxy.port}`;
    const demo = await startAppProcess('examples/demo/server.mjs', { DATABASE_URL: url.href });
    try {
      const visitor = await signUp(demo.base, 'grace', 'cobol compiler');
      assert.equal(await visitor.signedInAs(), 'grace');
      await proxy.stop();
      // The requests in flight when the store learns that the database is away fail; the ones after get the 503.
      let last = { status: 0, body: '', retryAfter: null as string | null };
      const away = await eventually(async () => {
        const response = await fetch(`${demo.base}/`, { headers: { cookie: visitor.browser.cookie! } });
        last = {
          status: response.status,
          body: await response.text(),
          retryAfter: response.headers.get('retry-after'),
        };
        return last.status === 503;
      }, 10_000);
      assert.ok(away, `a 503 while the database is away (last: ${last.status})`);
      assert.match(last.body, /<h1>503 Unavailable<\/h1>/);
      assert.match(last.body, /The database is away for a moment: try again shortly\./);
      assert.equal(last.retryAfter, '5');
      await proxy.start();
      // The store asks the database by itself, at most every 10 seconds, and says connect.
      const back = await eventually(async () => (await visitor.open('/')) === 200, 15_000);
      assert.ok(back, 'served again once the database is back');
      assert.equal(await visitor.signedInAs(), 'grace', 'still signed in');
    } finally {
      assert.equal(await demo.stop(), 0, demo.output());
      await proxy.stop();
    }
  });

  it('a port already taken: says which, how to choose another, and exits 1', async () => {
    const schema = uniqueName('cps_demo');
    schemas.push(schema);
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    const { port } = taken.address() as AddressInfo;
    try {
      const run = await runToEnd(process.execPath, [resolve(__dirname, '../examples/demo/server.mjs')], {
        cwd: resolve(__dirname, '..'),
        env: { ...process.env, DATABASE_URL: databaseUrlIn(schema), PORT: String(port) },
        limitMs: 60_000,
      });
      assert.equal(run.code, 1, run.output);
      assert.match(
        run.output,
        new RegExp(
          `Port ${port} is taken \\(another program listens on 127\\.0\\.0\\.1:${port}\\): stop it, or choose another port, e\\.g\\. PORT=${port + 1} npm start`,
        ),
      );
      assert.doesNotMatch(run.output, /TypeError|at .*server\.mjs/, 'no stack trace');
    } finally {
      taken.close();
    }
  });

  it('on DATABASE_URL: every bad request gets its 4xx page, the unexpected a 500 page, and the server keeps serving', async () => {
    const { demo, schema } = await startOnServer();
    try {
      const visitor = await signUp(demo.base, 'mallory', 'long enough');
      await visitor.open('/');
      assert.equal(await visitor.submit('/logout'), 303);
      await visitor.open('/');
      const withCookie = (init: RequestInit = {}): RequestInit => ({
        ...init,
        redirect: 'manual',
        headers: { ...(init.headers as Record<string, string>), cookie: visitor.browser.cookie! },
      });
      const raw = async (path: string, init?: RequestInit) => {
        const response = await fetch(demo.base + path, withCookie(init));
        return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
      };
      const token = visitor.body.match(/name="_csrf" value="([^"]+)"/)![1]!;

      const cases: Array<
        [string, () => Promise<{ status: number; body: string; type: string | null }>, number, RegExp]
      > = [
        ['a POST without a body', () => raw('/login', { method: 'POST' }), 403, /did not come from this site/],
        [
          'a POST of JSON',
          () =>
            raw('/login', {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ _csrf: token, username: 'mallory', password: 'long enough' }),
            }),
          415,
          /application\/x-www-form-urlencoded/,
        ],
        [
          'an oversized body',
          () =>
            raw('/signup', {
              method: 'POST',
              body: new URLSearchParams({ _csrf: token, username: 'big', password: 'x'.repeat(10_000) }),
            }),
          413,
          /413/,
        ],
        ['an unknown route', () => raw('/no/such/page'), 404, /There is no page here/],
        ['a POST to an unknown route', () => raw('/nowhere', { method: 'POST' }), 404, /There is no page here/],
        [
          'a wrong CSRF token',
          () =>
            raw('/login', {
              method: 'POST',
              body: new URLSearchParams({ _csrf: `${token.slice(1)}x`, username: 'mallory', password: 'long enough' }),
            }),
          403,
          /did not come from this site/,
        ],
        [
          'a CSRF token of another length',
          () => raw('/login', { method: 'POST', body: new URLSearchParams({ _csrf: 'short', username: 'mallory' }) }),
          403,
          /did not come from this site/,
        ],
        [
          'a form without a CSRF token, from another site',
          () =>
            fetch(`${demo.base}/login`, {
              method: 'POST',
              body: new URLSearchParams({ username: 'mallory', password: 'long enough' }),
            }).then(async (r) => ({ status: r.status, body: await r.text(), type: r.headers.get('content-type') })),
          403,
          /did not come from this site/,
        ],
        [
          'a wrong password',
          () =>
            raw('/login', {
              method: 'POST',
              body: new URLSearchParams({ _csrf: token, username: 'mallory', password: 'not the one' }),
            }),
          401,
          /Wrong username or password/,
        ],
        [
          'an unknown user',
          () =>
            raw('/login', {
              method: 'POST',
              body: new URLSearchParams({ _csrf: token, username: 'nobody', password: 'long enough' }),
            }),
          401,
          /Wrong username or password/,
        ],
        [
          'a sign-in without a password',
          () => raw('/login', { method: 'POST', body: new URLSearchParams({ _csrf: token, username: 'mallory' }) }),
          400,
          /Enter your username and password/,
        ],
        [
          'a taken username',
          () =>
            raw('/signup', {
              method: 'POST',
              body: new URLSearchParams({ _csrf: token, username: 'MALLORY', password: 'long enough' }),
            }),
          409,
          /That username is taken/,
        ],
        [
          'a short password',
          () =>
            raw('/signup', {
              method: 'POST',
              body: new URLSearchParams({ _csrf: token, username: 'eve', password: 'short' }),
            }),
          400,
          /8 to 200 characters/,
        ],
        [
          'a username with markup',
          () =>
            raw('/signup', {
              method: 'POST',
              body: new URLSearchParams({ _csrf: token, username: '<b>eve</b>', password: 'long enough' }),
            }),
          400,
          /A username is 2 to 40 letters/,
        ],
        [
          'a repeated field',
          () =>
            raw('/login', {
              method: 'POST',
              body: `_csrf=${token}&_csrf=${token}&username=a&username=b`,
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
            }),
          403,
          /did not come from this site/,
        ],
        [
          'signing out a device while signed out',
          () =>
            raw('/account/sign-out-device', {
              method: 'POST',
              body: new URLSearchParams({ _csrf: token, handle: 'x' }),
            }),
          401,
          /Sign in first/,
        ],
        ['a malformed URL', () => raw('/%E0%A4%A'), 404, /There is no page here/],
      ];
      for (const [what, response, status, message] of cases) {
        const { status: got, body, type } = await response();
        assert.equal(got, status, `${what}: ${body}`);
        assert.match(body, message, what);
        assert.match(type ?? '', /^text\/html/, `${what} gets a page`);
        assert.match(body, /<\/html>$/, `${what} gets a whole page`);
      }
      assert.equal(await visitor.submit('/login', { username: 'mallory', password: 'long enough' }), 303);
      await visitor.open('/account');
      assert.equal(await visitor.submit('/account/sign-out-device'), 400, 'no handle');
      assert.match(visitor.body, /Which device\?/);
      assert.equal(await visitor.signedInAs(), 'mallory', 'still serving, still signed in');
      assert.doesNotMatch(demo.output(), /failed:/, 'no bad request was an unexpected error');

      // Something unexpected: the accounts table is gone. A 500 page, and the next request is served.
      await admin.query(`DROP TABLE "${schema}".demo_account`);
      await visitor.open('/');
      assert.equal(await visitor.submit('/logout'), 303);
      await visitor.open('/');
      assert.equal(await visitor.submit('/login', { username: 'mallory', password: 'long enough' }), 500);
      assert.match(visitor.body, /Something went wrong on our side/);
      assert.doesNotMatch(visitor.body, /demo_account/, 'no internals on the page');
      assert.equal(await visitor.open('/'), 200);
      assert.match(demo.output(), /POST \/login failed:/);
    } finally {
      assert.equal(await demo.stop(), 0, demo.output());
    }
  });

  it('a form redirect followed at once, as browsers do, leads to a page that sees what the form changed', async () => {
    const { demo } = await startOnServer();
    try {
      const visitor = await signUp(demo.base, 'barbara', 'liskov substitution');
      // The race is one of microseconds: many rounds make a write that lands after the redirect show.
      for (let round = 1; round <= 20; round++) {
        await visitor.open('/account');
        const page = await postAndFollow(demo.base, visitor, '/account/sign-out-others', {});
        assert.match(page, /Signed out 0 other device\(s\)\./, `round ${round}: the notice the form left`);
      }
      for (let round = 1; round <= 10; round++) {
        const other = new Visitor(demo.base);
        await other.open('/');
        const page = await postAndFollow(demo.base, other, '/login', {
          username: 'barbara',
          password: 'liskov substitution',
        });
        assert.match(page, /Signed in as <strong>barbara<\/strong>/, `round ${round}: signed in on the next page`);
      }
    } finally {
      assert.equal(await demo.stop(), 0, demo.output());
    }
  });

  it('on a session table of schema 2: says how to migrate, serves, and lists devices once migrated', async () => {
    const schema = uniqueName('cps_demo');
    schemas.push(schema);
    await admin.query(`CREATE SCHEMA "${schema}"`);
    // The table an earlier version's `npm start` made.
    await admin.query(`CREATE TABLE "${schema}"."session" (
      "sid" text COLLATE "C" NOT NULL PRIMARY KEY,
      "sess" json NOT NULL,
      "expire" timestamptz(6) NOT NULL,
      "created" timestamptz(6) NOT NULL DEFAULT now()
    )`);
    await admin.query(`COMMENT ON COLUMN "${schema}"."session"."sid" IS 'connect-pg-simple session ids: sha256'`);
    await admin.query(`COMMENT ON TABLE "${schema}"."session" IS 'connect-pg-simple schema 2'`);
    const env = { DATABASE_URL: databaseUrlIn(schema) };
    const demo = await startAppProcess('examples/demo/server.mjs', env);
    try {
      assert.match(demo.output(), /schema version 3[\s\S]*npx connect-pg-simple migrate/, 'the advice, at start');
      const visitor = await signUp(demo.base, 'hopper', 'cobol and nanoseconds');
      assert.equal(await visitor.signedInAs(), 'hopper');
      assert.equal(await visitor.open('/account'), 500);
      assert.equal(await visitor.open('/'), 200, 'still serving');

      await promisify(execFile)(process.execPath, [resolve(__dirname, '../bin/connect-pg-simple.js'), 'migrate'], {
        env: { ...process.env, ...env },
      });
      // The store sees the migration at its next per-user call; the session's next write then records its user.
      assert.equal(await visitor.open('/account'), 200, 'the account page works again');
      assert.equal(await visitor.open('/'), 200);
      assert.deepEqual(
        (await visitor.devices()).map(({ current }) => current),
        [true],
        'listed without a restart',
      );
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
      await signUpCountAndSignIn(demo.base);
      assert.match((await new Browser(demo.base).get('/')).body, /Database: <code>PGlite in-process/);
    } finally {
      assert.equal(await demo.stop(), 0, demo.output());
    }
  });
});
