// OpenTelemetry spans and metrics for connect-pg-simple, from its TracingChannels
// (docs/observability.md). Copy this file into your app: it needs @opentelemetry/api,
// which connect-pg-simple itself does not depend on.

import { tracingChannel } from 'node:diagnostics_channel';
import { context, type Meter, type Span, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';

const OPERATIONS = [
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
];

/** What connect-pg-simple publishes (see the table in docs/observability.md). */
interface OperationContext {
  operation: string;
  table: string;
  statements: number;
  cacheHit?: boolean;
  server?: 'primary' | 'replica';
  rowsPruned?: number;
  automatic?: boolean;
  revoked?: number;
  poolWaitMs?: number;
  sqlState?: string;
  errorCode?: string;
  error?: unknown;
}

/** What the store's `pool` option was given, if a pg.Pool: its queue is the pool wait. */
interface PgPoolCounts {
  readonly waitingCount: number;
  readonly idleCount: number;
  readonly totalCount: number;
}

export interface Instrumentation {
  tracer: Tracer;
  meter: Meter;
  /** The pg.Pool given to the store, for the pool gauges (waiting, idle, total). */
  pool?: PgPoolCounts;
}

/** Subscribes; returns the function that unsubscribes. */
export function instrumentSessions({ tracer, meter, pool }: Instrumentation): () => void {
  const duration = meter.createHistogram('connect_pg_simple.operation.duration', {
    description: 'Duration of session store operations',
    unit: 's',
  });
  const poolWait = meter.createHistogram('connect_pg_simple.pool.wait', {
    description: 'Time an operation waited for a free connection of its pg.Pool',
    unit: 's',
  });
  const errors = meter.createCounter('connect_pg_simple.operation.errors', {
    description: 'Failed session store operations, by SQLSTATE (or error code)',
  });
  const cacheLookups = meter.createCounter('connect_pg_simple.cache.lookups', {
    description: 'get() with readCache: hit=true when the cache answered (hit ratio: hits / all)',
  });
  const pruned = meter.createCounter('connect_pg_simple.sessions.pruned', {
    description: 'Expired sessions removed by prunes',
  });
  const poolGauge = meter.createObservableGauge('connect_pg_simple.pool.connections', {
    description: 'Connections of the pg.Pool given to the store, by state (waiting: requests queued for one)',
  });
  const observePool = (result: { observe(value: number, attributes: Record<string, string>): void }) => {
    if (pool === undefined) return;
    result.observe(pool.waitingCount, { state: 'waiting' });
    result.observe(pool.idleCount, { state: 'idle' });
    result.observe(pool.totalCount, { state: 'total' });
  };
  poolGauge.addCallback(observePool);

  const started = new WeakMap<OperationContext, { span: Span; at: number; failed: boolean }>();

  const finish = (message: OperationContext) => {
    const state = started.get(message);
    if (state === undefined) return;
    started.delete(message);
    const { span, at } = state;
    const attributes: Record<string, string | number | boolean> = {
      'db.system.name': 'postgresql',
      'db.collection.name': message.table,
      'db.operation.name': message.operation,
    };
    span.setAttribute('connect_pg_simple.statements', message.statements);
    if (message.server !== undefined) attributes['connect_pg_simple.server'] = message.server;
    if (message.poolWaitMs !== undefined) {
      poolWait.record(message.poolWaitMs / 1000, { 'db.operation.name': message.operation });
    }
    if (message.cacheHit !== undefined) {
      span.setAttribute('connect_pg_simple.cache_hit', message.cacheHit);
      cacheLookups.add(1, { 'db.collection.name': message.table, hit: message.cacheHit });
    }
    if (message.rowsPruned !== undefined) {
      span.setAttribute('connect_pg_simple.rows_pruned', message.rowsPruned);
      pruned.add(message.rowsPruned, { 'db.collection.name': message.table, automatic: message.automatic === true });
    }
    if (state.failed) {
      const status = message.sqlState ?? message.errorCode ?? 'unknown';
      attributes['db.response.status_code'] = status;
      attributes['error.type'] = status;
      errors.add(1, { 'db.operation.name': message.operation, 'db.response.status_code': status });
      span.setStatus({ code: SpanStatusCode.ERROR, message: status });
    }
    span.setAttributes(attributes);
    span.end();
    duration.record((performance.now() - at) / 1000, attributes);
  };

  const handlers = {
    start(message: unknown) {
      const operation = message as OperationContext;
      const span = tracer.startSpan(
        `session ${operation.operation}`,
        { kind: SpanKind.CLIENT, attributes: { 'db.operation.name': operation.operation } },
        context.active(),
      );
      started.set(operation, { span, at: performance.now(), failed: false });
    },
    end(message: unknown) {
      // Thrown before the operation's promise existed: no asyncEnd follows.
      const state = started.get(message as OperationContext);
      if (state?.failed) finish(message as OperationContext);
    },
    asyncStart() {},
    asyncEnd(message: unknown) {
      finish(message as OperationContext);
    },
    error(message: unknown) {
      const state = started.get(message as OperationContext);
      if (state !== undefined) state.failed = true;
    },
  };
  const channels = OPERATIONS.map((operation) => tracingChannel(`connect-pg-simple:${operation}`));
  for (const channel of channels) channel.subscribe(handlers);
  return () => {
    for (const channel of channels) channel.unsubscribe(handlers);
    poolGauge.removeCallback(observePool);
  };
}
