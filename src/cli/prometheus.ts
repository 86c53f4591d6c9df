import type { TableStats } from '../schema/stats.js';
import type { StorageForms } from '../schema/storage-forms.js';
import { deadTupleRatio } from './advice.js';

/**
 * `stats --format prometheus`: the figures in Prometheus' text exposition format (version
 * 0.0.4), for a cron job that writes node_exporter's textfile collector, or a sidecar. Each
 * metric has its HELP and TYPE lines; every sample carries the table as a label.
 */

type Labels = Readonly<Record<string, string>>;

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly samples: ReadonlyArray<readonly [Labels, number]>;
}

/** A label value as the format escapes it: backslash, double quote and line feed. */
export function labelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A HELP text as the format escapes it: backslash and line feed. */
function helpText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function sampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** Every metric, as lines of the exposition format. */
export function exposition(metrics: readonly Metric[]): string {
  const lines: string[] = [];
  for (const { name, help, samples } of metrics) {
    if (samples.length === 0) continue;
    lines.push(`# HELP ${name} ${helpText(help)}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of samples) {
      const pairs = Object.entries(labels).map(([key, text]) => `${key}="${labelValue(text)}"`);
      lines.push(`${name}{${pairs.join(',')}} ${sampleValue(value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `stats`' figures as Prometheus gauges. */
export function statsAsPrometheus(stats: TableStats, advice: readonly string[], forms: StorageForms): string {
  const table = { table: stats.table };
  const at = (labels: Labels) => ({ ...table, ...labels });
  const instant = (value: number | null, labels: Labels): Array<readonly [Labels, number]> =>
    value === null ? [] : [[at(labels), value]];
  const metrics: Metric[] = [
    {
      name: 'connect_pg_simple_sessions',
      help: "Sessions in the table, live or expired (the planner's estimates on a large table unless --exact: see connect_pg_simple_sessions_estimated).",
      samples: [
        [at({ state: 'live' }), stats.liveSessions],
        [at({ state: 'expired' }), stats.expiredSessions],
      ],
    },
    {
      name: 'connect_pg_simple_sessions_estimated',
      help: "1 when the session counts are the planner's estimates, 0 when every row was counted.",
      samples: [[table, stats.countsEstimated ? 1 : 0]],
    },
    {
      name: 'connect_pg_simple_oldest_expired_age_seconds',
      help: 'Seconds since the longest-expired session expired (absent when none has): a prune that does not run shows here.',
      samples: instant(stats.oldestExpiredAgeSeconds, {}),
    },
    {
      name: 'connect_pg_simple_table_bytes',
      help: "The table's size on disk, its indexes apart.",
      samples: [[table, stats.tableBytes]],
    },
    {
      name: 'connect_pg_simple_index_bytes',
      help: "The table's indexes' size on disk.",
      samples: [[table, stats.indexBytes]],
    },
    {
      name: 'connect_pg_simple_row_versions',
      help: 'Row versions, live or dead, as pg_stat_user_tables counts them.',
      samples: [
        [at({ state: 'live' }), stats.liveTuples],
        [at({ state: 'dead' }), stats.deadTuples],
      ],
    },
    {
      name: 'connect_pg_simple_dead_row_versions_ratio',
      help: 'Dead row versions among all of them (0 to 1).',
      samples: [[table, deadTupleRatio(stats)]],
    },
    {
      name: 'connect_pg_simple_last_vacuum_timestamp_seconds',
      help: 'When the table was last vacuumed, by hand or by autovacuum (seconds since the epoch; absent for never).',
      samples: [...instant(stats.lastVacuum, { by: 'manual' }), ...instant(stats.lastAutovacuum, { by: 'auto' })],
    },
    {
      name: 'connect_pg_simple_last_analyze_timestamp_seconds',
      help: 'When the table was last analyzed, by hand or by autovacuum (seconds since the epoch; absent for never).',
      samples: [...instant(stats.lastAnalyze, { by: 'manual' }), ...instant(stats.lastAutoanalyze, { by: 'auto' })],
    },
    {
      name: 'connect_pg_simple_schema_version',
      help: "The table's schema version (connect-pg-simple migrate brings it to the package's).",
      samples: [[table, stats.version]],
    },
    {
      name: 'connect_pg_simple_stored_sessions',
      help: 'Live sessions by how they are stored, encrypted or plain JSON (estimated from a sample on a large table).',
      samples: [
        [at({ storage: 'encrypted' }), forms.encryption.encrypted],
        [at({ storage: 'plain' }), forms.encryption.plain],
      ],
    },
    {
      name: 'connect_pg_simple_partitions',
      help: 'Partitions of a partitioned table, and how many a prune would drop now.',
      samples:
        stats.partitions === undefined
          ? []
          : [
              [at({ state: 'all' }), stats.partitions.partitions.length],
              [at({ state: 'droppable' }), stats.partitions.partitions.filter((p) => p.droppable).length],
            ],
    },
    {
      name: 'connect_pg_simple_advice',
      help: 'Pieces of advice stats gives (0 when all looks well; run connect-pg-simple stats to read them).',
      samples: [[table, advice.length]],
    },
  ];
  return exposition(metrics);
}
