import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseCommandLine } from '../src/cli/args.js';
import { exposition } from '../src/cli/prometheus.js';
import { assertCliFailure, runCli as cli, spawnCli } from './support/cli.js';
import { type Admin, eventually, serverAdmin, uniqueName } from './support/database.js';

/**
 * `stats --format prometheus`, parsed line by line against the text exposition format's grammar
 * (version 0.0.4), and `stats --watch [SECONDS]`.
 */

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|NaN|[+-]Inf)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Reads a label set `{a="x",b="y"}` from `text` at `at`; where it ends. Throws on anything else. */
function readLabels(text: string, at: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  assert.equal(text[at], '{');
  let i = at + 1;
  while (text[i] !== '}') {
    const eq = text.indexOf('=', i);
    const name = text.slice(i, eq);
    assert.match(name, LABEL_NAME, `label name ${JSON.stringify(name)}`);
    assert.ok(!(name in labels), `label ${name} twice`);
    assert.equal(text[eq + 1], '"', 'a label value is quoted');
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = text[j];
      assert.ok(c !== undefined && c !== '\n', 'label value ends');
      if (c === '"') break;
      if (c === '\\') {
        const escaped = text[j + 1];
        assert.ok(escaped === '\\' || escaped === '"' || escaped === 'n', `escape \\${escaped}`);
        value += escaped === 'n' ? '\n' : escaped;
        j += 2;
      } else {
        value += c;
        j++;
      }
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else assert.equal(text[i], '}', 'labels are separated by commas');
  }
  return { labels, end: i + 1 };
}

/** Parses an exposition strictly: HELP/TYPE before a metric's samples, each metric's samples together. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string>; help: Map<string, string> } {
  assert.ok(text.endsWith('\n'), 'ends with a line feed');
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const finished = new Set<string>();
  let current: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (match === null) continue; // a comment
      const [, keyword, name, rest] = match as unknown as [string, string, string, string];
      assert.match(name, METRIC_NAME);
      assert.ok(
        !finished.has(name) && !samples.some((s) => s.name === name),
        `${keyword} of ${name} before its samples`,
      );
      if (keyword === 'TYPE') {
        assert.ok(TYPES.has(rest), `type ${rest}`);
        assert.ok(!types.has(name), `one TYPE line for ${name}`);
        types.set(name, rest);
      } else {
        assert.doesNotMatch(rest.replace(/\\[\\n]/g, ''), /\\/, 'HELP escapes only \\\\ and \\n');
        assert.ok(!help.has(name), `one HELP line for ${name}`);
        help.set(name, rest);
      }
      continue;
    }
    const name = /^[^\s{]+/.exec(line)?.[0] ?? '';
    assert.match(name, METRIC_NAME, `metric name in ${JSON.stringify(line)}`);
    let labels: Record<string, string> = {};
    let rest = line.slice(name.length);
    if (rest.startsWith('{')) {
      const read = readLabels(line, name.length);
      labels = read.labels;
      rest = line.slice(read.end);
    }
    const fields = rest.split(' ');
    assert.equal(fields[0], '', 'one space before the value');
    assert.ok(fields.length === 2 || fields.length === 3, `value [timestamp] in ${JSON.stringify(line)}`);
    assert.match(fields[1]!, VALUE);
    if (fields.length === 3) assert.match(fields[2]!, /^-?\d+$/);
    if (current !== name) {
      assert.ok(!finished.has(name), `the samples of ${name} are together`);
      if (current !== undefined) finished.add(current);
      current = name;
    }
    const value = fields[1] === '+Inf' ? Infinity : fields[1] === '-Inf' ? -Infinity : Number(fields[1]);
    samples.push({ name, labels, value });
  }
  return { samples, types, help };
}

describe('the Prometheus text format', () => {
  it('escapes label values and HELP text, and the parser reads them back', () => {
    const text = exposition([
      {
        name: 'a_metric',
        help: 'back\\slash and\nline',
        samples: [
          [{ table: 'we"ird\\name\nhere' }, 1.5],
          [{ table: 'plain' }, Number.NaN],
        ],
      },
      { name: 'empty_metric', help: 'no samples: left out', samples: [] },
    ]);
    const { samples, types } = parseExposition(text);
    assert.deepEqual(
      samples.map((s) => s.labels.table),
      ['we"ird\\name\nhere', 'plain'],
    );
    assert.equal(types.get('a_metric'), 'gauge');
    assert.equal(types.has('empty_metric'), false);
  });

  it('the parser refuses what the grammar does not allow', () => {
    for (const bad of [
      'a{b="c} 1\n',
      'a{b=c} 1\n',
      'a{b="\\x"} 1\n',
      '1a 1\n',
      'a  1\n',
      'a one\n',
      'a 1\nb 1\na 2\n',
      'a 1\n# TYPE a gauge\n',
      'a 1',
    ]) {
      assert.throws(() => parseExposition(bad), assert.AssertionError, JSON.stringify(bad));
    }
  });
});

describe('stats --format prometheus and --watch', () => {
  let admin: Admin;
  let schemaName: string;
  const target = (name: string) => ['--schema', schemaName, '--table', name];

  before(async () => {
    admin = serverAdmin();
    schemaName = uniqueName('cps_prom');
    await admin.query(`CREATE SCHEMA "${schemaName}"`);
  });
  after(async () => {
    await admin.query(`DROP SCHEMA "${schemaName}" CASCADE`);
    await admin.close();
  });

  it('prints every figure as a gauge labelled with the table, in a format Prometheus parses', async () => {
    const name = 'odd"name\\x';
    assert.equal((await cli(['migrate', ...target(name)])).code, 0);
    const table = `"${schemaName}"."odd""name\\x"`;
    await admin.query(
      `INSERT INTO ${table} SELECT 'live' || g, '{}', now() + interval '1 hour' FROM generate_series(1, 4) g`,
    );
    await admin.query(
      `INSERT INTO ${table} SELECT 'old' || g, '{}', now() - interval '2 hours' FROM generate_series(1, 2) g`,
    );
    const run = await cli(['stats', '--format', 'prometheus', ...target(name)]);
    assert.equal(run.code, 0, run.stderr);
    const { samples, types, help } = parseExposition(run.stdout);
    for (const sample of samples) assert.equal(sample.labels.table, table, 'every sample names the table');
    const value = (metric: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === metric && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    assert.equal(value('connect_pg_simple_sessions', { state: 'live' }), 4);
    assert.equal(value('connect_pg_simple_sessions', { state: 'expired' }), 2);
    assert.equal(value('connect_pg_simple_sessions_estimated'), 0);
    assert.ok(value('connect_pg_simple_oldest_expired_age_seconds')! >= 7200);
    assert.ok(value('connect_pg_simple_table_bytes')! > 0);
    assert.equal(value('connect_pg_simple_schema_version'), 4);
    assert.equal(value('connect_pg_simple_stored_sessions', { storage: 'plain' }), 4);
    assert.equal(value('connect_pg_simple_advice'), 1);
    // Never vacuumed: no sample rather than a made-up time.
    assert.equal(value('connect_pg_simple_last_vacuum_timestamp_seconds'), undefined);
    for (const metric of new Set(samples.map((s) => s.name))) {
      assert.equal(types.get(metric), 'gauge');
      assert.ok(help.has(metric));
    }
  });

  it('refuses an unknown format, and two formats at once', async () => {
    assertCliFailure(await cli(['stats', '--format', 'xml']), 2, /--format must be one of text, json, prometheus/);
    assertCliFailure(
      await cli(['stats', '--json', '--format', 'prometheus']),
      2,
      /--json and --format prometheus say two formats/,
    );
    assertCliFailure(await cli(['stats', '--watch', '0']), 2, /--watch must be a number of seconds above 0/);
  });

  it('--watch takes an optional number of seconds (2 without one)', () => {
    assert.equal(parseCommandLine(['stats', '--watch']).options.watch, '2');
    assert.equal(parseCommandLine(['stats', '--watch', '--json']).options.watch, '2');
    assert.equal(parseCommandLine(['stats', '--watch', '5']).options.watch, '5');
    assert.equal(parseCommandLine(['stats', '--watch=0.5']).options.watch, '0.5');
  });

  it('--watch prints the figures again and again, and Ctrl-C ends it without an error', async () => {
    await cli(['migrate', ...target('watched')]);
    const { child, done } = spawnCli(['stats', '--watch', '0.1', '--format', 'prometheus', ...target('watched')]);
    let stdout = '';
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    const reports = () => stdout.match(/^# TYPE connect_pg_simple_sessions gauge$/gm)?.length ?? 0;
    assert.ok(await eventually(async () => reports() >= 2, 20_000), 'two reports');
    await admin.query(`INSERT INTO "${schemaName}"."watched" VALUES ('new', '{}', now() + interval '1 hour')`);
    assert.ok(
      await eventually(async () => /connect_pg_simple_sessions\{[^}]*state="live"\} 1$/m.test(stdout), 20_000),
      'a later report sees the new session',
    );
    child.kill('SIGINT');
    const run = await done;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /every 0\.1 s; Ctrl-C to stop/);
  });
});
