import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';

// docs/frameworks.md shows the example files whole; `npm run typecheck` checks the files, this keeps the page equal to them.
const root = resolve(__dirname, '..');
const page = readFileSync(resolve(root, 'docs/frameworks.md'), 'utf8');

describe('docs/frameworks.md', () => {
  for (const file of ['koa.mts', 'hono.mts', 'react-router.mts', 'unstorage.mts']) {
    it(`shows examples/${file} as it is`, () => {
      const example = readFileSync(resolve(root, 'examples', file), 'utf8').trimEnd();
      assert.ok(page.includes(`\`\`\`ts\n${example}\n\`\`\``), `examples/${file} differs from its copy in the page`);
    });
  }
});
