/**
 * What one request loaded: the core's `load` hands it out beside the session, and the request's
 * writes give it back to `save`. It belongs to the request, not to the session id: two requests
 * of one session, in one process or in two, each hold their own.
 *
 * A write that carries a receipt for its session id updates the row only if it is still alive,
 * so a session destroyed meanwhile (logout, regenerate, `clear()`, in any process) stays gone.
 * A write without one is a new session, and may insert. The store keeps nothing per session
 * id for this: the receipt lives as long as the request does. The framework adapters keep it
 * per request (adapters/request-receipts.ts); where the framework hands the store its session
 * objects instead (express-session, @fastify/session, direct use: store.ts), it travels with
 * the session object, by the functions below:
 * - direct use, and copies such as `{ ...loaded, user }`: on the loaded `cookie` object, under
 *   a symbol that is not enumerable (JSON, `Object.keys`, `for…in` and deep equality ignore it);
 * - express-session copies the loaded object into a new `Session`: the store's `createSession`
 *   takes the receipt from the loaded object (`receiptOf`) and binds it to the copy (`bindReceipt`);
 * - @fastify/session builds its `Session` from `cookie.toJSON()` and keeps that result in a
 *   symbol-keyed property of its own: the loaded cookie's (non-enumerable) `toJSON` returns its
 *   fields plus the receipt, and `receiptFor` looks in the session's own symbol-keyed objects.
 */
export interface LoadReceipt {
  readonly sid: string;
  /** The stored text as this request last read or wrote it: the base its next write compares with. */
  text: string;
  /**
   * The row's text as stored, when it is not `text` (an encrypted session): what a write of this
   * request's changes expects to find in the row (compare-and-swap).
   */
  stored?: string;
  /** Seconds the row had left at `at`, by the database's clock (never more than it had). */
  remainingSeconds: number;
  /** This process's monotonic clock (ms) when the statement was sent. */
  at: number;
  /**
   * The session's user as this request loaded or last wrote it (schema 3 tables; undefined
   * before): a write records the row's user only when it differs (login, logout).
   */
  userId?: string | null;
}

const RECEIPT: unique symbol = Symbol('connect-pg-simple load receipt');

type Carrier = { [RECEIPT]?: LoadReceipt };

/** Receipts of session objects that have no cookie object to carry one (and of express-session's copies). */
const receiptsBySession = new WeakMap<object, LoadReceipt>();

function isObject(value: unknown): value is Record<PropertyKey, unknown> {
  return typeof value === 'object' && value !== null;
}

function hide(target: object, key: PropertyKey, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: false, configurable: true, writable: true });
}

/** A copy of the cookie's own fields, with the receipt: what a framework that calls `toJSON` keeps. */
function cookieJsonWithReceipt(this: Record<string, unknown>): Record<PropertyKey, unknown> {
  return { ...this, [RECEIPT]: (this as Carrier)[RECEIPT] };
}

/** Gives `session` (just loaded, not yet seen by anyone) the receipt of the request that loads it. */
export function attachReceipt(session: Record<string, unknown>, receipt: LoadReceipt): void {
  const cookie = session.cookie;
  if (isObject(cookie) && !Array.isArray(cookie) && !('toJSON' in cookie)) {
    hide(cookie, RECEIPT, receipt);
    hide(cookie, 'toJSON', cookieJsonWithReceipt);
  } else {
    receiptsBySession.set(session, receipt);
  }
}

/**
 * Binds a receipt to `session`: a framework's copy of a loaded session, or a new session this
 * request has just written (its next writes update only).
 */
export function bindReceipt(session: object, receipt: LoadReceipt): void {
  receiptsBySession.set(session, receipt);
}

/** The receipt `session` carries itself (bound to it, or on its cookie), whatever its id. */
export function receiptOf(session: object): LoadReceipt | undefined {
  const known = receiptsBySession.get(session);
  if (known !== undefined) return known;
  const cookie = (session as { cookie?: unknown }).cookie;
  return isObject(cookie) ? (cookie as Carrier)[RECEIPT] : undefined;
}

/** The receipt of the request that loaded (or first wrote) `session` as `sid`, if there is one. */
export function receiptFor(session: object, sid: string): LoadReceipt | undefined {
  let receipt = receiptOf(session);
  if (receipt === undefined) {
    for (const key of Object.getOwnPropertySymbols(session)) {
      const value = (session as Record<symbol, unknown>)[key];
      if (isObject(value) && RECEIPT in value) {
        receipt = (value as Carrier)[RECEIPT];
        break;
      }
    }
  }
  // A receipt for another id came with a copy (a regenerated session keeps the old options): new.
  return receipt?.sid === sid ? receipt : undefined;
}
