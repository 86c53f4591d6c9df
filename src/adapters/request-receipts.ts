import type { SessionCore } from '../core.js';
import { bindReceipt, type LoadReceipt, receiptOf } from '../load-receipt.js';
import { ObservedCore } from '../observed-core.js';
import { type PGStoreOptions, resolveOptions } from '../options.js';

/** The store's core for a framework adapter: options validated once, no express-session rules. */
export function openCore(options: PGStoreOptions | undefined): SessionCore {
  return new ObservedCore(resolveOptions(options), { requireCookie: false });
}

/**
 * The receipts of requests whose framework hands the store a fresh object on write (koa-session's
 * `toJSON()`, React Router's `session.data`, …) instead of the object `get` returned. Each is kept
 * under the request's own object (koa's `ctx`, Hono's context, React Router's `Session`), so it
 * lives exactly as long as the request does, and two requests of one session keep their own.
 */
export class ReceiptsByRequest {
  readonly #receipts = new WeakMap<object, LoadReceipt>();

  /** Keeps for `request` the receipt `session` carries: one the core just loaded or wrote. */
  keep(request: object | undefined, session: object): void {
    const receipt = receiptOf(session);
    if (request !== undefined && receipt !== undefined) this.#receipts.set(request, receipt);
  }

  /** Gives `session`, about to be written, the receipt `request` keeps (if any): the core then updates only. */
  carry(request: object | undefined, session: object): void {
    const receipt = request === undefined ? undefined : this.#receipts.get(request);
    if (receipt !== undefined) bindReceipt(session, receipt);
  }

  forget(request: object | undefined): void {
    if (request !== undefined) this.#receipts.delete(request);
  }
}
