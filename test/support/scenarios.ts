import assert from 'node:assert/strict';
import type { Gates } from './gates.js';
import type { Browser } from './http.js';
import type { SessionRows } from './session-rows.js';

/**
 * What every framework's test app does (routes `/me`, `/login` as ada, `/count`, and
 * `/slow/:gate/:key`, which sets `key` after waiting at `gate`), driven the same way for each.
 */

/** A visitor signs in and counts twice, in one session. */
export async function signInAndCount(browser: Browser): Promise<void> {
  assert.equal((await browser.get('/me')).body, 'anonymous');
  await browser.get('/login');
  assert.equal((await browser.get('/me')).body, 'ada');
  assert.equal((await browser.get('/count')).body, '1');
  assert.equal((await browser.get('/count')).body, '2');
}

/**
 * Two requests of one signed-in session at once, each changing its own key: both load the
 * session before either writes; `first` writes first.
 */
export async function changeConcurrently(
  browser: Browser,
  gates: Gates,
  first: 'upload' | 'cart' = 'upload',
): Promise<void> {
  await browser.get('/login');
  const requests = { upload: browser.get('/slow/upload/uploadId'), cart: browser.get('/slow/cart/cart') };
  await gates.reached('upload');
  await gates.reached('cart');
  const second = first === 'upload' ? 'cart' : 'upload';
  gates.open(first);
  await requests[first];
  gates.open(second);
  await requests[second];
}

/**
 * Lazy touch, seen in the row: once signed in, a request that only reads leaves the row as it
 * was (its xmin), and one that counts writes it. `sidOf` reads the session id from the cookie.
 */
export async function readsSkipTheWrite(
  browser: Browser,
  rows: SessionRows,
  sidOf: (browser: Browser) => string | undefined | Promise<string | undefined>,
): Promise<void> {
  await browser.get('/login');
  const sid = (await sidOf(browser))!;
  const written = await rows.of(sid);
  assert.equal((await browser.get('/me')).body, 'ada');
  assert.equal((await rows.of(sid))?.xmin, written?.xmin, 'covered touch wrote nothing');
  await browser.get('/count');
  assert.notEqual((await rows.of(sid))?.xmin, written?.xmin, 'a change is written');
}
