import type { SessionCore } from '../core.js';
import type { LoadReceipt } from '../load-receipt.js';
import { ObservedCore } from '../observed-core.js';
import { type PGStoreOptions, resolveOptions } from '../options.js';

/**
 * The store's core for a framework adapter: options validated once, no express-session rules.
 * `cookieIsData`: the session's `cookie` key is the app's data (see CoreSettings); false for an
 * adapter that keeps its framework's expiry there itself, as hono.ts does.
 */
export function openCore(options: PGStoreOptions | undefined, cookieIsData = true): SessionCore {
  return new ObservedCore(resolveOptions(options), { requireCookie: false, cookieIsData });
}

/**
 * The receipts of a framework's requests (see load-receipt.ts): what each request loaded, kept
 * under the request's own object (koa's `ctx`, the session object hono-sessions keeps, React
 * Router's `Session`), so that it lives exactly as long as the request does, and two requests of
 * one session keep their own. The frameworks hand the store a fresh object on write (koa-session's
 * `toJSON()`, React Router's `session.data`, …): the receipt goes to the core beside it.
 */
export class ReceiptsByRequest {
  readonly #receipts = new WeakMap<object, LoadReceipt>();

  /** Keeps for `request` the receipt the core just gave: of a load, or of a write. */
  keep(request: object | undefined, receipt: LoadReceipt): void {
    if (request !== undefined) this.#receipts.set(request, receipt);
  }

  /** The receipt `request` keeps, if any: a write that carries it is an update only. */
  of(request: object | undefined): LoadReceipt | undefined {
    return request === undefined ? undefined : this.#receipts.get(request);
  }

  forget(request: object | undefined): void {
    if (request !== undefined) this.#receipts.delete(request);
  }
}
