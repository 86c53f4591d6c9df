import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { startAppProcess } from './support/app-process.js';
import { databaseUrlIn, serverAdmin, uniqueName } from './support/database.js';
import { skipUnlessInstalled } from './support/system-tools.js';

// The demo in a real browser: Debian's Chromium, driven by playwright-core (no browser download).
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = resolve(__dirname, '../test-artifacts/demo-account.png');
const PHONE_SCREENSHOT = resolve(__dirname, '../test-artifacts/demo-account-phone.png');
const ADMIN_SCREENSHOT = resolve(__dirname, '../test-artifacts/demo-admin.png');
/** An iPhone's viewport in CSS pixels, and its browser. */
const PHONE_VIEWPORT = { width: 390, height: 844 };
const SAFARI_ON_IOS =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
// The second browser context says it is Firefox on Windows, so the two devices read differently on the account page.
const FIREFOX_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

const missing = skipUnlessInstalled(
  existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is absent (Debian's chromium package)`,
);

/** The text of what the locator finds (Playwright's `textContent`: every text node, markup removed). */
const textOf = async (locator: Locator): Promise<string> => (await locator.textContent()) ?? '';

/** Clicks a form's button; resolves, once the page it leads to (after the redirect, if any) has loaded, with its status. */
async function submit(page: Page, button: Locator): Promise<number> {
  const landed = page.waitForResponse(
    (response) => response.request().isNavigationRequest() && (response.status() < 300 || response.status() >= 400),
  );
  await button.click();
  const response = await landed;
  await page.waitForLoadState('load');
  return response.status();
}

async function submitCredentials(page: Page, form: 'signup' | 'login', username: string, password: string) {
  const fields = page.locator(`form[action="/${form}"]`);
  await fields.locator('input[name="username"]').fill(username);
  await fields.locator('input[name="password"]').fill(password);
  assert.equal(await submit(page, fields.getByRole('button')), 200);
  const main = await textOf(page.locator('main'));
  assert.match(main, new RegExp(`Signed in as ${username}\\.`), main);
}

async function openHome(context: BrowserContext, base: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${base}/`);
  return page;
}

describe('the demo app in a real browser (Chromium)', () => {
  it('two browsers as one user: both listed, one signs the other out, which is signed out on its next page load', {
    skip: missing,
    timeout: 300_000,
  }, async () => {
    const admin = serverAdmin();
    const schema = uniqueName('cps_demo_browser');
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const demo = await startAppProcess('examples/demo/server.mjs', { DATABASE_URL: databaseUrlIn(schema) });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      console.log(`# ${CHROMIUM} ${browser.version()}`);
      const laptop = await openHome(await browser.newContext(), demo.base);
      const phone = await openHome(await browser.newContext({ userAgent: FIREFOX_ON_WINDOWS }), demo.base);

      await submitCredentials(laptop, 'signup', 'ada', 'analytical engine');
      await submitCredentials(phone, 'login', 'ada', 'analytical engine');

      await laptop.goto(`${demo.base}/account`);
      const rows = laptop.locator('tbody tr');
      assert.equal(await rows.count(), 2, await laptop.content());
      const current = laptop.locator('tbody tr.current');
      assert.equal(await current.count(), 1, 'exactly one device is this one');
      assert.match(await textOf(current), /Headless Chrome \d+ on Linux\s*This device/);
      const other = laptop.locator('tbody tr:not(.current)');
      assert.match(await textOf(other), /Firefox 133 on Windows/);
      assert.doesNotMatch(await textOf(other), /This device/);
      assert.equal(
        await current
          .locator('.badge')
          .evaluate((badge) => (globalThis as any).getComputedStyle(badge).backgroundColor),
        'rgb(47, 125, 50)',
        'the page is styled (the Content-Security-Policy lets its stylesheet in)',
      );
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await laptop.screenshot({ path: SCREENSHOT, fullPage: true });
      console.log(`# screenshot of the account page: ${SCREENSHOT}`);

      assert.equal(await submit(laptop, other.getByRole('button', { name: 'Sign out this device' })), 200);
      assert.equal(laptop.url(), `${demo.base}/account`);
      assert.match(await textOf(laptop.locator('main')), /Signed out that device\./, await laptop.content());
      assert.equal(await rows.count(), 1);
      assert.match(await textOf(rows), /Headless Chrome \d+ on Linux\s*This device/);

      await phone.goto(`${demo.base}/account`);
      assert.equal(phone.url(), `${demo.base}/`, 'the account page sent the signed-out browser home');
      assert.match(await textOf(phone.locator('main')), /Not signed in\./);
      assert.equal(await phone.locator('form[action="/login"]').count(), 1, 'with the sign-in form');

      await laptop.goto(`${demo.base}/`);
      assert.match(await textOf(laptop.locator('main')), /Signed in as ada\./, 'the laptop stays signed in');

      // On a phone's screen: the title on at most two lines, and nothing to scroll sideways.
      const mobile = await openHome(
        await browser.newContext({
          userAgent: SAFARI_ON_IOS,
          viewport: PHONE_VIEWPORT,
          isMobile: true,
          hasTouch: true,
        }),
        demo.base,
      );
      await submitCredentials(mobile, 'login', 'ada', 'analytical engine');
      await mobile.goto(`${demo.base}/account`);
      assert.equal(await mobile.locator('tbody tr').count(), 2);
      assert.match(await textOf(mobile.locator('tbody tr.current')), /Safari 18 on iOS\s*This device/);
      const title = await mobile.locator('h1').evaluate((h1) => {
        const style = (globalThis as any).getComputedStyle(h1);
        return { height: h1.getBoundingClientRect().height, lineHeight: Number.parseFloat(style.lineHeight) };
      });
      assert.ok(
        title.height <= 2 * title.lineHeight + 1,
        `the title takes ${title.height} px, lines of ${title.lineHeight} px`,
      );
      const width = await mobile.evaluate(() => ({
        page: (globalThis as any).document.documentElement.scrollWidth,
        main: (globalThis as any).document.querySelector('main').scrollWidth,
        viewport: (globalThis as any).innerWidth,
      }));
      assert.ok(
        width.page <= width.viewport && width.main <= width.viewport,
        `nothing scrolls sideways: ${JSON.stringify(width)}`,
      );
      // The header's links and button stay together on one line (the title may take a line of its own).
      const navMiddles = await mobile
        .locator('header a[href="/account"], header a[href="/admin"], header button')
        .evaluateAll((items) =>
          items.map((item) => {
            const box = item.getBoundingClientRect();
            return box.top + box.height / 2;
          }),
        );
      assert.equal(navMiddles.length, 3, 'Account, Admin and Sign out');
      assert.ok(
        Math.max(...navMiddles) - Math.min(...navMiddles) < 4,
        `Account, Admin and Sign out on one line: ${JSON.stringify(navMiddles)}`,
      );
      await mobile.screenshot({ path: PHONE_SCREENSHOT, fullPage: true });
      console.log(`# screenshot of the account page on a phone: ${PHONE_SCREENSHOT}`);

      // ada made the first account: the admin page, with its chart of sign-ins.
      await laptop.goto(`${demo.base}/admin`);
      assert.equal(await laptop.locator('#sessions-per-user tbody tr').count(), 1);
      assert.match(await textOf(laptop.locator('#sessions-per-user tbody tr')), /ada\s*2/);
      assert.equal(await laptop.locator('#sign-in-chart rect').count(), 48, 'two bars for each of 24 hours');
      await laptop.screenshot({ path: ADMIN_SCREENSHOT, fullPage: true });
      console.log(`# screenshot of the admin page: ${ADMIN_SCREENSHOT}`);
    } catch (error) {
      console.log(`# the demo's output:\n${demo.output()}`);
      throw error;
    } finally {
      await browser.close();
      assert.equal(await demo.stop(), 0, demo.output());
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.close();
    }
  });
});
