import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

const version: string = JSON.parse(
  readFileSync(resolve(__dirname, '../../node_modules/@electric-sql/pglite/package.json'), 'utf8'),
).version;
/** A fresh PGlite cluster's files, kept between runs: loading them is several times quicker than a new cluster's initdb. */
const template = resolve(__dirname, `../../.tmp/pglite-${version}-fresh-cluster.tar`);

/**
 * A new in-memory PGlite, as `PGlite.create()` makes it, started from a saved copy of a fresh cluster when there is
 * one (the first call without one saves it). Each test file needing PGlite should make one and share it.
 */
export async function newPGlite(): Promise<PGlite> {
  if (existsSync(template)) {
    try {
      return await PGlite.create({ loadDataDir: new Blob([readFileSync(template)]) });
    } catch {
      // A copy from elsewhere that this PGlite cannot load: make a new cluster, as without one.
    }
  }
  const db = await PGlite.create();
  const dump = await db.dumpDataDir('none');
  mkdirSync(resolve(template, '..'), { recursive: true });
  // Written aside then renamed: test files running at once never read half a file.
  const partial = join(resolve(template, '..'), `.pglite-${process.pid}.tar`);
  writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
  renameSync(partial, template);
  return db;
}
