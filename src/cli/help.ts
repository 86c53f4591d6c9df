import { COMMANDS, CONNECTION_OPTIONS, GENERAL_OPTIONS, type OptionSpec } from './spec.js';

const BIN = 'connect-pg-simple';

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => [
    `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`,
    spec.description,
  ]);
  const width = Math.max(...rows.map(([left]) => left!.length));
  return rows.map(([left, right]) => `  ${left!.padEnd(width)}  ${right}`);
}

export function mainHelp(version: string): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    `${BIN} ${version}: operate the session table of connect-pg-simple`,
    '',
    `Usage: ${BIN} <command> [options]`,
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(width)}  ${spec.summary}`),
    '',
    'Connection options (all commands):',
    ...optionLines(CONNECTION_OPTIONS),
    '',
    'Other options:',
    ...optionLines(GENERAL_OPTIONS),
    '',
    `Run \`${BIN} <command> --help\` for a command's options.`,
    'Exit codes: 0 done, 1 failed (database, network, environment), 2 bad command line (or a secret missing from the environment), 130 stopped by Ctrl-C after the batch in flight.',
    '',
  ].join('\n');
}

export function commandHelp(command: string): string {
  const spec = COMMANDS[command]!;
  const own = Object.keys(spec.options).length > 0 ? [`Options:`, ...optionLines(spec.options), ''] : [];
  const connection = spec.connects
    ? ['Connection options:', ...optionLines(CONNECTION_OPTIONS), '']
    : ['Name options:', ...optionLines({ schema: CONNECTION_OPTIONS.schema!, table: CONNECTION_OPTIONS.table! }), ''];
  return [
    `Usage: ${BIN} ${command} [options]`,
    '',
    wrap(spec.description, 80),
    '',
    ...own,
    ...connection,
    'Examples:',
    ...spec.examples.map((e) => `  ${e}`),
    '',
  ].join('\n');
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines.join('\n');
}
