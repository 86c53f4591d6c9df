import { SCHEMA_VERSION } from '../../schema/ddl.js';
import { readTableStats, type TableStats } from '../../schema/stats.js';
import { readStorageForms, type StorageForms } from '../../schema/storage-forms.js';
import type { TableNames } from '../../sql.js';
import { adviceFor, deadTupleRatio } from '../advice.js';
import type { CommandLine } from '../args.js';
import { EXIT_OK } from '../errors.js';
import { bytes, count, duration, isoTime, percent, when } from '../format.js';
import type { Runner } from '../io.js';
import { missingTable } from './require-table.js';

function asJson(stats: TableStats, advice: string[], forms: StorageForms): string {
  const { now, lastVacuum, lastAutovacuum, lastAnalyze, lastAutoanalyze, ...figures } = stats;
  return `${JSON.stringify(
    {
      ...figures,
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
    ['sessions', `${count(stats.liveSessions)} live, ${count(stats.expiredSessions)} expired${oldest}`],
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
    const forms = await readStorageForms(db, names);
    if (forms === undefined) throw missingTable(names);
    const advice = adviceFor(stats);
    io.out(json ? asJson(stats, advice, forms) : asText(stats, advice, forms));
    return EXIT_OK;
  };
}
