import { AsyncLocalStorage } from 'node:async_hooks';
import { type TracingChannel, tracingChannel } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { redactForLog } from './redact.js';

/**
 * The store's TracingChannels (`node:diagnostics_channel`): one per operation, named
 * `connect-pg-simple:<operation>`, for APM and OpenTelemetry to subscribe to without patching.
 * A context tells what an operator needs and never a session id, a session's data or a
 * connection secret. Without a subscriber an operation takes its untraced path: nothing is
 * allocated for it.
 */

export const OPERATIONS = [
  'get',
  'set',
  'touch',
  'destroy',
  'destroyStoredId',
  'all',
  'length',
  'clear',
  'prune',
  'userSessions',
  'destroyUserSessions',
  'destroySession',
] as const;

export type Operation = (typeof OPERATIONS)[number];

/** What subscribers of `connect-pg-simple:<operation>` receive (the same object at each event). */
export interface OperationContext {
  readonly operation: Operation;
  /** The table, `schema.table` (just `table` when the store uses the connection's search_path). */
  readonly table: string;
  /** Statements sent to the database for this operation, so far (replica reads included). */
  statements: number;
  /** `get` with `readCache` only: whether the cache answered (no statement sent). */
  cacheHit?: boolean;
  /** `get` with `readPool` only: which server's row answered. */
  server?: 'primary' | 'replica';
  /** `prune`: expired sessions removed (on a partitioned table, dropped partitions' rows as estimated). */
  rowsPruned?: number;
  /** `prune`: whether the prune timer started it (false: `pruneSessions()`). */
  automatic?: boolean;
  /** With a `pg.Pool` (given, or made from `conString`): milliseconds waited for a free connection, over the call's statements. */
  poolWaitMs?: number;
  /** `destroyUserSessions` and `destroySession`: live sessions revoked. */
  revoked?: number;
  /** On failure: the SQLSTATE PostgreSQL gave (the error's or its cause's), if any. */
  sqlState?: string;
  /** On failure: the error's `code` (a SQLSTATE, `ETIMEDOUT`, `ECONNREFUSED`, …), if any. */
  errorCode?: string;
  /** On failure: the error, with the fields that may quote row data or parameters removed. */
  error?: unknown;
}

type Channels = { readonly [K in Operation]: TracingChannel<unknown, OperationContext> };

export const CHANNEL_PREFIX = 'connect-pg-simple:';

export const channels: Channels = Object.freeze(
  Object.fromEntries(
    OPERATIONS.map((operation) => [operation, tracingChannel<unknown, OperationContext>(CHANNEL_PREFIX + operation)]),
  ) as unknown as Channels,
);

/**
 * Whether anybody listens. `TracingChannel.hasSubscribers` is newer than Node 20.9, the
 * package's oldest: its five channels are asked one by one.
 */
export function isTraced(channel: TracingChannel<unknown, OperationContext>): boolean {
  return (
    channel.start.hasSubscribers ||
    channel.end.hasSubscribers ||
    channel.asyncStart.hasSubscribers ||
    channel.asyncEnd.hasSubscribers ||
    channel.error.hasSubscribers
  );
}

/** The traced operation the current code runs for: statements sent are counted on it. */
const currentOperation = new AsyncLocalStorage<OperationContext>();

/**
 * Runs a traced operation: start, end, then asyncStart and asyncEnd when it settles (error
 * before them when it fails), as `TracingChannel.tracePromise` publishes them, but without
 * putting the operation's result (a session's data) on the context. `finish` adds what the
 * result says that may be told.
 */
export function traceOperation<T>(
  context: OperationContext,
  work: () => Promise<T>,
  finish?: (context: OperationContext, result: T) => void,
): Promise<T> {
  const channel = channels[context.operation];
  const failed = (error: unknown) => {
    describeFailure(context, error);
    channel.error.publish(context);
  };
  return currentOperation.run(context, () =>
    channel.start.runStores(context, () => {
      try {
        return work().then(
          (result) => {
            finish?.(context, result);
            channel.asyncStart.publish(context);
            channel.asyncEnd.publish(context);
            return result;
          },
          (error: unknown) => {
            failed(error);
            channel.asyncStart.publish(context);
            channel.asyncEnd.publish(context);
            throw error;
          },
        );
      } catch (error) {
        failed(error);
        throw error;
      } finally {
        channel.end.publish(context);
      }
    }),
  );
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
/** How deep a chain of `cause`s is followed for a SQLSTATE. */
const MAX_CAUSE_DEPTH = 4;

function describeFailure(context: OperationContext, error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') context.errorCode = code;
  const sqlState = sqlStateOf(error);
  if (sqlState !== undefined) context.sqlState = sqlState;
  context.error = redactForLog(error);
}

/** The SQLSTATE of a server's error, or of the one an explained error carries as its cause. */
export function sqlStateOf(error: unknown): string | undefined {
  let current = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && SQLSTATE.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A statement sent at the driver's boundary (drivers/open.ts): it counts on the traced operation it serves. */
export function noteStatement(): void {
  const operation = currentOperation.getStore();
  if (operation !== undefined) operation.statements++;
}

/** A pg.Pool's wait for a connection, from now to `end()`, counted on the traced operation; undefined when untraced. */
export function poolWait(): { end(): void } | undefined {
  const operation = currentOperation.getStore();
  if (operation === undefined) return undefined;
  const from = performance.now();
  let waiting = true;
  return {
    end() {
      if (!waiting) return;
      waiting = false;
      operation.poolWaitMs = (operation.poolWaitMs ?? 0) + (performance.now() - from);
    },
  };
}

/** `readPool`: the replica's row answered the traced `get`. */
export function noteReplicaAnswered(): void {
  const operation = currentOperation.getStore();
  if (operation !== undefined) operation.server = 'replica';
}
