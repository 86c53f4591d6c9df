import * as errors from './errors.js';
import { typeError } from './errors.js';
import { type ExpressPGStoreConstructor, expressStoreClass, PGStore as PlainPGStore } from './store.js';

/**
 * `require('connect-pg-simple')(session)`: the store class for express-session (or Connect),
 * extending its `Store`.
 */
function connectPgSimple(session: connectPgSimple.SessionModule): ExpressPGStoreConstructor {
  const Store =
    (session as { Store?: unknown } | null | undefined)?.Store ??
    (session as { session?: { Store?: unknown } } | null | undefined)?.session?.Store;
  if (typeof Store !== 'function') {
    throw typeError(
      'ERR_INVALID_ARG',
      'connect-pg-simple: pass express-session (or Connect) to the function: require("connect-pg-simple")(session)',
    );
  }
  return expressStoreClass(Store as new (...args: any[]) => any);
}

namespace connectPgSimple {
  /** What `connectPgSimple()` accepts: express-session itself, or Connect/Express 3 with `.session.Store`. */
  export type SessionModule =
    | { readonly Store: abstract new (...args: any[]) => any }
    | { readonly session: { readonly Store: abstract new (...args: any[]) => any } };
  /** The store on a plain EventEmitter, for @fastify/session and direct use. */
  export const PGStore = PlainPGStore;
  export type PGStore = import('./store.js').PGStore;
  export type PGStoreConstructor = import('./store.js').PGStoreConstructor;
  export type PGStoreOptions = import('./options.js').PGStoreOptions;
  export type SessionObject = import('./types.js').SessionObject;
  export type ExpressPGStore = import('./store.js').ExpressPGStore;
  export type ExpressPGStoreConstructor = import('./store.js').ExpressPGStoreConstructor;
  export type PGStoreMethods = import('./store.js').PGStoreMethods;
  export type ListedSessionData = import('./store.js').ListedSessionData;
  export type UserSession = import('./store.js').UserSession;
  export type DestroyUserSessionsOptions = import('./store.js').DestroyUserSessionsOptions;
  export type DestroySessionOptions = import('./store.js').DestroySessionOptions;
  export type UserIdOf = import('./types.js').UserIdOf;
  export type DescribeSession = import('./types.js').DescribeSession;
  export type SessionDetails = import('./types.js').SessionDetails;
  export type Callback<T = void> = import('./callbacks.js').Callback<T>;
  // The errors it raises, to catch by type (instanceof) and by `code`: see docs/errors.md.
  export const ConnectionError = errors.ConnectionError;
  export type ConnectionError = errors.ConnectionError;
  export const ConnectTimeoutError = errors.ConnectTimeoutError;
  export type ConnectTimeoutError = errors.ConnectTimeoutError;
  export const CorruptSessionError = errors.CorruptSessionError;
  export type CorruptSessionError = errors.CorruptSessionError;
  export const DecryptionError = errors.DecryptionError;
  export type DecryptionError = errors.DecryptionError;
  export const OperationTimeoutError = errors.OperationTimeoutError;
  export type OperationTimeoutError = errors.OperationTimeoutError;
  export const PGStoreError = errors.PGStoreError;
  export type PGStoreError = errors.PGStoreError;
  export const SchemaError = errors.SchemaError;
  export type SchemaError = errors.SchemaError;
  export const StoreClosedError = errors.StoreClosedError;
  export type StoreClosedError = errors.StoreClosedError;
  export type MistakeCode = errors.MistakeCode;
  export type MistakeError = errors.MistakeError;
  /** What subscribers of the TracingChannels `connect-pg-simple:<operation>` receive (docs/observability.md). */
  export type OperationContext = import('./diagnostics.js').OperationContext;
  /** The store's events and what their listeners receive (docs/observability.md). */
  export type StoreEvents = import('./store-events.js').StoreEvents;
  export type SessionCreatedEvent = import('./store-events.js').SessionCreatedEvent;
  export type SessionDestroyedEvent = import('./store-events.js').SessionDestroyedEvent;
  export type SessionRevokedEvent = import('./store-events.js').SessionRevokedEvent;
  export type UserSessionsRevokedEvent = import('./store-events.js').UserSessionsRevokedEvent;
  export type SessionsPrunedEvent = import('./store-events.js').SessionsPrunedEvent;
}

export = connectPgSimple;
