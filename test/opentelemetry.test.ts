import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { useDriverStores } from './support/driver-stores.js';
import { inSeconds } from './support/sessions.js';

/**
 * examples/opentelemetry.mts (the recipe in docs/observability.md) with the real OpenTelemetry
 * SDK and in-memory exporters: spans for operations, and metric points for their latency, errors
 * by SQLSTATE, the cache's hits and misses, prune counts and the pool's connections.
 */

describe('the OpenTelemetry recipe', () => {
  const suite = useDriverStores('pg', 'cps_otel');
  const { newStore, q, table } = suite;

  it('turns the channels into spans and metric points', async () => {
    const { instrumentSessions } = (await import(
      '../examples/opentelemetry.mjs'
    )) as typeof import('../examples/opentelemetry.mjs');
    const spans = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 3_600_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const stop = instrumentSessions({
      tracer: tracerProvider.getTracer('test'),
      meter: meterProvider.getMeter('test'),
      pool: suite.harness.storeOptions.pool as never,
    });
    try {
      const store = newStore({ readCache: 60_000, tableName: 'otel' });
      await store.set('a', inSeconds(3600, { n: 1 }) as any);
      await store.get('a'); // read: the cache misses
      await store.get('a'); // the cache answers
      await store.set('b', inSeconds(3600) as any);
      await q(
        `UPDATE ${table('otel')} SET expire = now() - interval '1 minute' WHERE sess::text LIKE '%originalMaxAge%' AND sess::text NOT LIKE '%"n"%'`,
      );
      assert.equal(await store.pruneSessions(), 1);
      await q(`DROP TABLE ${table('otel')}`);
      await assert.rejects(store.length(), { code: '42P01' });
      await reader.forceFlush(); // the pool gauge is read now, while subscribed
    } finally {
      stop();
    }

    const finished = spans.getFinishedSpans();
    assert.deepEqual(
      finished.map((span) => span.name),
      ['session set', 'session get', 'session get', 'session set', 'session prune', 'session length'],
    );
    const [, miss, hit, , prune, failed] = finished;
    assert.equal(miss!.attributes['connect_pg_simple.cache_hit'], false);
    assert.equal(hit!.attributes['connect_pg_simple.cache_hit'], true);
    assert.equal(hit!.attributes['connect_pg_simple.statements'], 0);
    assert.equal(prune!.attributes['connect_pg_simple.rows_pruned'], 1);
    assert.equal(failed!.attributes['db.response.status_code'], '42P01');
    assert.equal(failed!.status.code, 2 /* SpanStatusCode.ERROR */);
    assert.match(String(miss!.attributes['db.collection.name']), /\.otel$/);

    const points = new Map<string, Array<{ attributes: Record<string, unknown>; value: unknown }>>();
    for (const resourceMetrics of metrics.getMetrics()) {
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          points.set(
            metric.descriptor.name,
            metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })),
          );
        }
      }
    }
    const durations = points.get('connect_pg_simple.operation.duration') ?? [];
    const counted = (operation: string) =>
      durations
        .filter((p) => p.attributes['db.operation.name'] === operation)
        .reduce((n, p) => n + (p.value as { count: number }).count, 0);
    assert.deepEqual([counted('get'), counted('set'), counted('prune'), counted('length')], [2, 2, 1, 1]);
    assert.deepEqual(points.get('connect_pg_simple.operation.errors'), [
      { attributes: { 'db.operation.name': 'length', 'db.response.status_code': '42P01' }, value: 1 },
    ]);
    const lookups = points.get('connect_pg_simple.cache.lookups') ?? [];
    assert.deepEqual(lookups.map((p) => [p.attributes.hit, p.value]).sort(), [
      [false, 1],
      [true, 1],
    ]);
    assert.deepEqual(
      points.get('connect_pg_simple.sessions.pruned')?.map((p) => p.value),
      [1],
    );
    const waits = points.get('connect_pg_simple.pool.wait') ?? [];
    assert.equal(
      waits.reduce((n, p) => n + (p.value as { count: number }).count, 0),
      5,
      'a pool wait for each operation but the get the cache answered',
    );
    const pool = points.get('connect_pg_simple.pool.connections') ?? [];
    assert.deepEqual(pool.map((p) => p.attributes.state).sort(), ['idle', 'total', 'waiting']);
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  });
});
