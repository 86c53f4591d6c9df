import { SCHEMA_VERSION } from '../../schema/ddl.js';
import { readTableStats, type TableStats } from '../../schema/stats.js';
import type { TableNames } from '../../sql.js';
import { adviceFor, deadTupleRatio } from '../advice.js';
import type { CommandLine } from '../args.js';
import { EXIT_OK } from '../errors.js';
import { bytes, count, duration, isoTime, percent, when } from '../format.js';
import type { Runner } from '../io.js';
import { missingTable } from './require-table.js';

function asJson(stats: TableStats, advice: string[]): string {
  const { now, lastVacuum, lastAutovacuum, lastAnalyze, lastAutoanalyze, ...figures } = stats;
  return `${JSON.stringify(
    {
      ...figures,
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

function asText(stats: TableStats, advice: string[]): string {
  const version =
    stats.version === SCHEMA_VERSION
      ? `${stats.version} (current)`
      : `${stats.version} (this package's is ${SCHEMA_VERSION})`;
  const oldest =
    stats.oldestExpiredAgeSeconds === null ? '' : ` (the oldest ${duration(stats.oldestExpiredAgeSeconds)} ago)`;
  const rows: Array<[string, string]> = [
    ['table', stats.table],
    ['schema version', version],
    ['sessions', `${count(stats.liveSessions)} live, ${count(stats.expiredSessions)} expired${oldest}`],
    ['size', `${bytes(stats.tableBytes)} table, ${bytes(stats.indexBytes)} indexes`],
    [
      'row versions',
      `${count(stats.liveTuples)} live, ${count(stats.deadTuples)} dead (${percent(deadTupleRatio(stats))} dead)`,
    ],
    ['vacuum', `${when(stats.lastVacuum, stats.now)}; auto ${when(stats.lastAutovacuum, stats.now)}`],
    ['analyze', `${when(stats.lastAnalyze, stats.now)}; auto ${when(stats.lastAutoanalyze, stats.now)}`],
    ['storage', stats.storageOptions.length > 0 ? stats.storageOptions.join(', ') : 'defaults'],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
  lines.push('', advice.length === 0 ? 'advice: none, all looks well' : 'advice:');
  for (const line of advice) lines.push(`  - ${line}`);
  return `${lines.join('\n')}\n`;
}

export function statsCommand(line: CommandLine, names: TableNames): Runner {
  const json = line.options.json === true;
  return async (maybeDb, io) => {
    const db = maybeDb!;
    const stats = await readTableStats(db, names);
    if (stats === undefined) throw missingTable(names);
    const advice = adviceFor(stats);
    io.out(json ? asJson(stats, advice) : asText(stats, advice));
    return EXIT_OK;
  };
}
