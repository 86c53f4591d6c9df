import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The code blocks of the documentation, and how to run each (see docs/development.md, "Code blocks in the
 * documentation are tests"). A block's harness is named by an HTML comment on the line before it:
 * `<!-- doctest: NAME key=value … -->`, or `<!-- doctest: skip REASON -->`.
 */
export interface CodeBlock {
  /** Where it is, e.g. `README.md:42`. */
  readonly where: string;
  readonly language: string;
  readonly code: string;
  readonly harness: string;
  readonly settings: Readonly<Record<string, string>>;
  /** Set for `<!-- doctest: skip REASON -->`. */
  readonly skipReason?: string;
  /** The page's text around the block (from the block before to the block after), where it says how to run it. */
  readonly prose: string;
}

/**
 * How the page says to run a program block: `file=NAME` (the file to save it as) and `run=node|tsx`
 * (`node NAME`, or `npx tsx NAME`), each also written in the page's text around the block.
 */
export interface PageRun {
  readonly fileName: string;
  /** The command that runs the file, as the page gives it. */
  readonly command: string;
  readonly typescript: boolean;
}

export function runAsThePageSays(block: CodeBlock): PageRun | undefined {
  const fileName = block.settings.file;
  if (fileName === undefined) return undefined;
  const run = block.settings.run;
  if (run !== 'node' && run !== 'tsx') throw new Error(`${block.where}: file= needs run=node or run=tsx`);
  const typescript = /\.[cm]?ts$/.test(fileName);
  if (typescript !== (run === 'tsx'))
    throw new Error(`${block.where}: ${fileName} is run with ${typescript ? 'tsx' : 'node'}`);
  return { fileName, command: `${run === 'tsx' ? 'npx tsx' : 'node'} ${fileName}`, typescript };
}

const PROGRAM_LANGUAGES = new Set(['js', 'mjs', 'cjs', 'ts', 'mts']);
/** The languages whose blocks are code to run; any other block (`text`, none) is not. */
export const RUNNABLE_LANGUAGES = new Set([...PROGRAM_LANGUAGES, 'sh', 'bash', 'sql']);
export const HARNESSES = new Set(['program', 'http-app', 'store', 'store-fragment', 'sh', 'sql', 'skip']);

function defaultHarness(language: string): string {
  if (PROGRAM_LANGUAGES.has(language)) return 'program';
  return language === 'sql' ? 'sql' : 'sh';
}

/** Every fenced block of a runnable language in `markdown`, with its harness. */
export function codeBlocks(markdown: string, file: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const language = open[2]!;
    let end = i + 1;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) end++;
    const code = lines
      .slice(i + 1, end)
      .map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length)))
      .join('\n');
    const start = i;
    i = end;
    if (!RUNNABLE_LANGUAGES.has(language)) continue;
    const prose = proseAround(lines, start, end);
    let before = start - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const comment = before >= 0 ? /^\s*<!--\s*doctest:\s*(.*?)\s*-->\s*$/.exec(lines[before]!) : null;
    const where = `${file}:${start + 1}`;
    if (!comment) {
      blocks.push({ where, language, code, harness: defaultHarness(language), settings: {}, prose });
      continue;
    }
    const [harness = '', ...rest] = comment[1]!.split(/\s+/);
    if (!HARNESSES.has(harness)) throw new Error(`${where}: unknown doctest harness "${harness}"`);
    if (harness === 'skip') {
      if (rest.length === 0) throw new Error(`${where}: a skipped block needs a reason`);
      blocks.push({ where, language, code, harness, settings: {}, skipReason: rest.join(' '), prose });
      continue;
    }
    const settings = Object.fromEntries(
      rest.map((pair) => {
        const [key, value] = pair.split('=');
        if (!key || value === undefined) throw new Error(`${where}: expected key=value, got "${pair}"`);
        return [key, value];
      }),
    );
    blocks.push({ where, language, code, harness, settings, prose });
  }
  return blocks;
}

/** The lines from the end of the fenced block before `start` to the start of the one after `end`, the block left out. */
function proseAround(lines: string[], start: number, end: number): string {
  const fence = (line: string) => /^\s*```/.test(line);
  let from = start - 1;
  while (from >= 0 && !fence(lines[from]!)) from--;
  let to = end + 1;
  while (to < lines.length && !fence(lines[to]!)) to++;
  return [...lines.slice(from + 1, start), ...lines.slice(end + 1, to)].join('\n');
}

const STORE_FRAGMENT_PRELUDE = `const session = require('express-session');
const pgSession = require('connect-pg-simple')(session);
const pool = new (require('pg').Pool)({ connectionString: process.env.DATABASE_URL });
pool.on('error', () => {});
`;

/** After a block that makes a `store`: a round trip through it, then the process ends. */
const STORE_EPILOGUE = `
;(async (doctestStore) => {
  const sid = 'doctest-' + process.pid;
  await doctestStore.set(sid, { cookie: { maxAge: 60000 }, doctest: true });
  const stored = await doctestStore.get(sid);
  if (!stored || stored.doctest !== true) throw new Error('the store did not give the session back: ' + JSON.stringify(stored));
  await doctestStore.destroy(sid);
  if ((await doctestStore.get(sid)) !== null) throw new Error('destroy left the session behind');
  await doctestStore.close();
  process.exit(0);
})(store).catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

/**
 * The program to run for a block of a program language, and the file name: the one the page says
 * (`file=`), else one whose extension picks the module kind the block needs.
 */
export function programFor(block: CodeBlock): { fileName: string; source: string } {
  const typescript = block.language === 'ts' || block.language === 'mts';
  // A block that requires is CommonJS (and top-level await in it fails, as it would for a user); else an ES module.
  const commonjs = block.harness === 'store-fragment' || (/\brequire\(/.test(block.code) && block.language !== 'mjs');
  const extension = `${commonjs ? 'c' : 'm'}${typescript ? 'ts' : 'js'}`;
  let source = block.code;
  if (block.harness === 'store-fragment') source = STORE_FRAGMENT_PRELUDE + source;
  if (block.harness === 'store' || block.harness === 'store-fragment') source += STORE_EPILOGUE;
  return { fileName: block.settings.file ?? `block.${extension}`, source };
}

/**
 * A throwaway project that depends on this package, as a user's would: `node_modules/connect-pg-simple` is this
 * checkout (built), its `.bin` has the command, and every dev dependency (drivers, frameworks) is there too.
 */
export function consumerProject(root: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cps-doctest-'));
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '.bin'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "name": "doctest-consumer", "private": true }\n');
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (entry === '.bin' || entry.startsWith('.')) continue;
    symlinkSync(join(root, 'node_modules', entry), join(modules, entry));
  }
  symlinkSync(root, join(modules, 'connect-pg-simple'));
  symlinkSync(resolve(root, 'bin/connect-pg-simple.js'), join(modules, '.bin', 'connect-pg-simple'));
  // For the pages' `npx tsx app.mts`.
  symlinkSync(join(root, 'node_modules/tsx/dist/cli.mjs'), join(modules, '.bin', 'tsx'));
  return dir;
}

export interface Finished {
  readonly code: number | string;
  readonly output: string;
}

/** Runs a command to its end; a run longer than `limitMs` is killed and reported as a hang. */
export function runToEnd(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; limitMs: number },
): Promise<Finished> {
  return new Promise((done) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, options.limitMs);
    // 'close', not 'exit': a child's last output may still be in its pipes when it exits.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: hung ? `hung (killed after ${options.limitMs} ms)` : (code ?? signal ?? 'unknown'), output });
    });
  });
}
