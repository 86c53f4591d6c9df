import { SCHEMA_VERSION } from '../../schema/ddl.js';
import { type PartitionStats, readTableStats, type TableStats } from '../../schema/stats.js';
import { readStorageForms, type StorageForms } from '../../schema/storage-forms.js';
import type { TableNames } from '../../sql.js';
import { adviceFor, deadTupleRatio } from '../advice.js';
import { type CommandLine, secondsOption } from '../args.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { bytes, count, duration, isoTime, percent, when } from '../format.js';
import type { Io, Runner } from '../io.js';
import { statsAsPrometheus } from '../prometheus.js';
import { missingTable } from './require-table.js';

/** The layout's figures for --json: the partitions with their ranges, estimates and whether they may be dropped. */
function layoutAsJson(stats: TableStats) {
  const partitions = stats.partitions;
  if (partitions === undefined) return { layout: 'plain' };
  return {
    layout: 'partitioned',
    partitioning: partitions.partitioning ?? null,
    partitions: partitions.partitions.map((p) => ({
      name: p.name,
      default: p.isDefault,
      from: isoTime(p.from),
      to: isoTime(p.to),
      rowEstimate: p.rowEstimate,
      deadTuples: p.deadTuples,
      tableBytes: p.tableBytes,
      indexBytes: p.indexBytes,
      lastVacuum: isoTime(p.lastVacuum),
      lastAutovacuum: isoTime(p.lastAutovacuum),
      droppable: p.droppable,
    })),
  };
}

function asJson(stats: TableStats, advice: string[], forms: StorageForms): string {
  const { now, lastVacuum, lastAutovacuum, lastAnalyze, lastAutoanalyze, partitions, ...figures } = stats;
  return `${JSON.stringify(
    {
      ...figures,
      ...layoutAsJson(stats),
      ...storageJson(forms),
      currentVersion: SCHEMA_VERSION,
      deadTupleRatio: deadTupleRatio(stats),
      lastVacuum: isoTime(lastVacuum),
      lastAutovacuum: isoTime(lastAutovacuum),
      lastAnalyze: isoTime(lastAnalyze),
      lastAutoanalyze: isoTime(lastAutoanalyze),
      readAt: isoTime(now),
      advice,
    },
    null,
    2,
  )}\n`;
}

/** How ids and sessions are stored, for --json: `sessionIds` and `encryption`. */
function storageJson(forms: StorageForms) {
  const { rekeying } = forms;
  return {
    sessionIds: {
      form: rekeying === undefined ? forms.idForm : 're-keying',
      ...(rekeying === undefined
        ? {}
        : {
            rekeying: {
              from: rekeying.from,
              to: 'hmac-sha256',
              pepperId: rekeying.pepperId,
              rowsLeft: rekeying.rowsLeft,
            },
          }),
    },
    encryption: forms.encryption,
  };
}

/** How ids and sessions are stored, as lines of the text output. */
function storageRows(forms: StorageForms): Array<[string, string]> {
  const { rekeying, encryption } = forms;
  const ids =
    rekeying === undefined
      ? forms.idForm
      : `re-keying from ${rekeying.from} to hmac-sha256 (pepper id ${rekeying.pepperId}), ${count(rekeying.rowsLeft)} rows left to move: run \`connect-pg-simple rekey\` to finish`;
  const keys = Object.entries(encryption.byKeyId)
    .sort(([, a], [, b]) => b - a)
    .map(([keyId, n]) => `key ${keyId}: ${count(n)}`);
  const about = encryption.sampled ? 'about ' : '';
  const stored = `${about}${count(encryption.encrypted)} encrypted${keys.length > 0 ? ` (${keys.join(', ')})` : ''}, ${about}${count(encryption.plain)} plain JSON${encryption.sampled ? ' (estimated from a sample of the table)' : ''}`;
  return [
    ['session ids', ids],
    ['live sessions', stored],
  ];
}

function asText(stats: TableStats, advice: string[], forms: StorageForms): string {
  const version =
    stats.version === SCHEMA_VERSION
      ? `${stats.version} (current)`
      : `${stats.version} (this package's is ${SCHEMA_VERSION})`;
  const oldest =
    stats.oldestExpiredAgeSeconds === null ? '' : ` (the oldest ${duration(stats.oldestExpiredAgeSeconds)} ago)`;
  const rows: Array<[string, string]> = [
    ['table', stats.table],
    ['schema version', version],
    ['layout', layoutAsText(stats)],
    [
      'sessions',
      `${stats.countsEstimated ? 'about ' : ''}${count(stats.liveSessions)} live, ${count(stats.expiredSessions)} expired${oldest}${stats.countsEstimated ? " (the planner's estimates: --exact counts every row)" : ''}`,
    ],
    ['size', `${bytes(stats.tableBytes)} table, ${bytes(stats.indexBytes)} indexes`],
    [
      'row versions',
      `${count(stats.liveTuples)} live, ${count(stats.deadTuples)} dead (${percent(deadTupleRatio(stats))} dead)`,
    ],
    ['vacuum', `${when(stats.lastVacuum, stats.now)}; auto ${when(stats.lastAutovacuum, stats.now)}`],
    ['analyze', `${when(stats.lastAnalyze, stats.now)}; auto ${when(stats.lastAutoanalyze, stats.now)}`],
    ['storage', stats.storageOptions.length > 0 ? stats.storageOptions.join(', ') : 'defaults'],
    ...storageRows(forms),
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
  if (stats.partitions !== undefined) lines.push('', ...partitionsAsText(stats, stats.partitions));
  lines.push('', advice.length === 0 ? 'advice: none, all looks well' : 'advice:');
  for (const line of advice) lines.push(`  - ${line}`);
  return `${lines.join('\n')}\n`;
}

function layoutAsText(stats: TableStats): string {
  const partitioning = stats.partitions?.partitioning;
  if (stats.partitions === undefined) return 'plain (one table)';
  if (partitioning === undefined) return 'partitioned, without the comment that says how (stores refuse it)';
  return `partitioned by creation time, ${duration(partitioning.widthSeconds)} per partition; sessions end ${duration(partitioning.lifetimeSeconds)} after creation`;
}

/** One line per partition: its range, rows, size, vacuum and whether a prune will drop it. */
function partitionsAsText(stats: TableStats, { partitions }: PartitionStats): string[] {
  const rows = partitions.map((p) => [
    p.name,
    p.isDefault ? 'DEFAULT' : `${isoTime(p.from)} .. ${isoTime(p.to)}`,
    `~${count(p.rowEstimate)} rows`,
    bytes(p.tableBytes + p.indexBytes),
    `${count(p.deadTuples)} dead`,
    `autovacuum ${when(p.lastAutovacuum, stats.now)}`,
    p.droppable ? 'droppable' : '',
  ]);
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]!.length))) ?? [];
  return [
    `partitions (${count(partitions.length)}; rows as the planner estimates them):`,
    ...rows.map(
      (r) =>
        `  ${r
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()}`,
    ),
  ];
}

const FORMATS = { text: asText, json: asJson, prometheus: statsAsPrometheus } as const;
type Format = keyof typeof FORMATS;

/** `--format`, or `--json`: how the figures are printed. */
function formatOf(line: CommandLine): Format {
  const given = line.options.format;
  if (given === undefined) return line.options.json === true ? 'json' : 'text';
  if (typeof given !== 'string' || !Object.hasOwn(FORMATS, given)) {
    throw new UsageError(`--format must be one of ${Object.keys(FORMATS).join(', ')}`, line.command);
  }
  if (line.options.json === true && given !== 'json') {
    throw new UsageError(`--json and --format ${given} say two formats: give one`, line.command);
  }
  return given as Format;
}

/** `--watch [SECONDS]`: how often to read the figures again; undefined for once. */
function watchSecondsOf(line: CommandLine): number | undefined {
  if (line.options.watch === undefined) return undefined;
  const seconds = secondsOption(line, 'watch', 2);
  if (seconds === 0) throw new UsageError('--watch must be a number of seconds above 0', line.command);
  return seconds;
}

export function statsCommand(line: CommandLine, names: TableNames): Runner {
  const print = FORMATS[formatOf(line)];
  const exact = line.options.exact === true;
  const watchSeconds = watchSecondsOf(line);
  return async (maybeDb, io) => {
    const db = maybeDb!;
    const report = async () => {
      const stats = await readTableStats(db, names, { exact });
      if (stats === undefined) throw missingTable(names);
      // A partitioned table's own row estimate stays -1: the partitions' sum is the table's.
      const forms = await readStorageForms(db, names, {
        ...(stats.partitions === undefined ? {} : { rowEstimate: stats.liveTuples }),
      });
      if (forms === undefined) throw missingTable(names);
      return print(stats, adviceFor(stats), forms);
    };
    if (watchSeconds === undefined) io.out(await report());
    else await watch(watchSeconds, report, io);
    return EXIT_OK;
  };
}

/** Prints a report every `seconds` until Ctrl-C (which then ends the command without an error). */
async function watch(seconds: number, report: () => Promise<string>, io: Io): Promise<void> {
  let stopped = false;
  let wake: () => void = () => {};
  const onSignal = () => {
    stopped = true;
    wake();
  };
  process.once('SIGINT', onSignal);
  io.err(`every ${seconds} s; Ctrl-C to stop\n`);
  try {
    for (let reports = 0; !stopped; reports++) {
      const text = await report();
      if (stopped) break;
      io.out(reports === 0 ? text : `\n${text}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, seconds * 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
}
