import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAppProcess } from './support/app-process.js';
import { databaseUrlIn, serverAdmin, uniqueName } from './support/database.js';
import {
  type CodeBlock,
  codeBlocks,
  consumerProject,
  programFor,
  runAsThePageSays,
  runToEnd,
} from './support/doctest.js';
import { Browser } from './support/http.js';
import { legacyTableSql } from './support/legacy.js';
import { skipUnlessInstalled } from './support/system-tools.js';

// Every code block of the README and docs/*.md runs here (see docs/development.md). npm test builds the package first.
const root = resolve(__dirname, '..');
const documents = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const blocks: CodeBlock[] = documents.flatMap((file) => codeBlocks(readFileSync(join(root, file), 'utf8'), file));
/** A hang guard, not a timing check: PGlite alone can take many seconds to start on a loaded machine. */
const LIMIT_MS = 120_000;
const SECRET = 'a doctest secret of at least thirty-two characters';

/** SQL run in one transaction with `schema` first on the search_path (one query: one pooled connection). */
const inSchema = (schema: string, sql: string) => `BEGIN; SET LOCAL search_path TO "${schema}"; ${sql}; COMMIT`;

function missingCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
}

describe('the code blocks of the documentation', { concurrency: 3 }, () => {
  const admin = serverAdmin();
  const schemas: string[] = [];
  let project: string;
  let blockNumber = 0;

  before(() => {
    project = consumerProject(root);
  });
  after(async () => {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.close();
    rmSync(project, { recursive: true, force: true });
  });

  /** A new schema, with the session table the block needs, and a directory of its own in the project. */
  async function prepare(block: CodeBlock): Promise<{ env: NodeJS.ProcessEnv; dir: string; schema: string }> {
    const schema = uniqueName('cps_doctest');
    schemas.push(schema);
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const table =
      block.settings.table ?? (block.harness === 'store' || block.harness === 'store-fragment' ? 'current' : 'none');
    if (table === 'current') {
      await admin.query(inSchema(schema, readFileSync(join(root, 'table.sql'), 'utf8')));
    } else if (table === 'legacy') {
      await admin.query(legacyTableSql(schema, 'session'));
    } else {
      assert.equal(table, 'none', `${block.where}: table= is current, legacy or none`);
    }
    const dir = join(project, 'blocks', String(++blockNumber));
    mkdirSync(dir, { recursive: true });
    const env = { ...process.env, DATABASE_URL: databaseUrlIn(schema), SESSION_SECRET: SECRET };
    return { env, dir, schema };
  }

  it('lists the blocks it does not run, each with the reason its comment gives', () => {
    const skipped = blocks.filter((b) => b.skipReason);
    for (const b of skipped) console.log(`skipped ${b.where}: ${b.skipReason}`);
    console.log(`${blocks.length} blocks: ${blocks.length - skipped.length} run, ${skipped.length} skipped`);
    assert.ok(blocks.length - skipped.length >= 10, 'most blocks run');
  });

  it('attaches an error listener to every pg.Pool a block makes (without one, Node.js exits when a connection dies)', () => {
    for (const block of blocks) {
      const pools = block.code.match(/new (pg\.)?Pool\(/g)?.length ?? 0;
      const listeners = block.code.match(/\.on\('error'/g)?.length ?? 0;
      assert.ok(listeners >= pools, `${block.where} makes a pg.Pool without pool.on('error', …)`);
    }
  });

  it('a block run under a file name is one the page names, with the command it gives', () => {
    const named = blocks.filter((b) => b.settings.file !== undefined);
    assert.ok(named.length >= 6, 'the framework snippets are among them');
    for (const block of named) {
      const { fileName, command } = runAsThePageSays(block)!;
      assert.ok(
        block.prose.includes(`\`${fileName}\``),
        `${block.where}: the page does not say to save it as ${fileName}`,
      );
      assert.ok(
        new RegExp(`\`[^\`]*${command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\``).test(block.prose),
        `${block.where}: the page does not give the command \`… ${command}\``,
      );
    }
  });

  it('links only to files and headings that exist', () => {
    const slug = (heading: string) =>
      heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-');
    const anchorsOf = (file: string) =>
      new Set(
        readFileSync(join(root, file), 'utf8')
          .split('\n')
          .filter((line) => /^#{1,6} /.test(line))
          .map((line) => slug(line.replace(/^#+ /, ''))),
      );
    for (const file of documents) {
      const text = readFileSync(join(root, file), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // https:, mailto:
        const [path, anchor] = target!.split('#');
        const linked = path ? join(file, '..', path) : file;
        assert.ok(existsSync(join(root, linked)), `${file} links to ${target}, which does not exist`);
        if (anchor) assert.ok(anchorsOf(linked).has(anchor), `${file} links to ${target}: no such heading`);
      }
    }
  });

  for (const block of blocks) {
    if (block.skipReason) continue;
    it(`${block.where} (${block.language}, ${block.harness})`, async (t) => {
      const needs = block.settings.needs?.split(',') ?? [];
      const missing = needs.filter(missingCommand);
      if (missing.length > 0) {
        t.skip(
          skipUnlessInstalled(`${missing.join(', ')} not installed: apt-get install ${missing.join(' ')}`, 'block'),
        );
        return;
      }
      const { env, dir, schema } = await prepare(block);

      if (block.harness === 'sh') {
        // From the project's root, as a user types commands.
        const run = await runToEnd('bash', ['-e', '-o', 'pipefail', '-c', block.code], {
          cwd: project,
          env,
          limitMs: LIMIT_MS,
        });
        assert.equal(run.code, 0, `${block.where} failed:\n${block.code}\n---\n${run.output}`);
        return;
      }
      if (block.harness === 'sql') {
        await admin.query(inSchema(schema, block.code));
        return;
      }

      const { fileName, source } = programFor(block);
      const file = join(dir, fileName);
      writeFileSync(file, source);
      if (block.harness === 'http-app') {
        const app = await startAppProcess(file, { ...env }, LIMIT_MS, dir);
        try {
          const browser = new Browser(app.base);
          const first = await browser.get('/');
          const second = await browser.get('/');
          assert.equal(first.status, 200, app.output());
          assert.equal(second.status, 200, app.output());
          assert.notEqual(
            second.body,
            first.body,
            `${block.where}: the second request did not see what the first stored in its session`,
          );
        } finally {
          await app.stop();
        }
        return;
      }
      const typescript = /\.[cm]?ts$/.test(fileName);
      const asThePageSays = runAsThePageSays(block);
      // The command the page gives (`npx tsx app.mts`, `node app.mjs`), else node, with tsx for TypeScript.
      const [command, ...args] = asThePageSays?.command.split(' ') ?? [
        process.execPath,
        ...(typescript ? ['--import', 'tsx'] : []),
        fileName,
      ];
      const run = await runToEnd(command === 'node' ? process.execPath : command!, args, {
        cwd: dir,
        env,
        limitMs: LIMIT_MS,
      });
      assert.equal(run.code, 0, `${block.where} failed:\n${source}\n---\n${run.output}`);
      if (typescript) {
        // A TypeScript block also type-checks, strict, as a user's project would (the harness's lines left out).
        const typed = join(dir, `typed.${fileName.endsWith('.cts') ? 'cts' : 'mts'}`);
        writeFileSync(typed, block.code);
        const tsc = resolve(root, 'node_modules/typescript/bin/tsc');
        const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext'];
        const check = await runToEnd(
          process.execPath,
          [tsc, ...flags, '--target', 'es2022', '--skipLibCheck', '--types', 'node', typed],
          { cwd: dir, env, limitMs: LIMIT_MS },
        );
        assert.equal(check.code, 0, `${block.where} does not type-check:\n${check.output}`);
      }
    });
  }
});
