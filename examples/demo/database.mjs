// Where the demo keeps its data: DATABASE_URL when set; otherwise PGlite, a real PostgreSQL running in this process.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * @returns {Promise<{ storeOptions: object, label: string, upgradeAdvice: string, query: (text: string, values?: unknown[]) => Promise<any[]>, close: () => Promise<void> }>}
 */
export async function openDatabase() {
  if (process.env.DATABASE_URL) {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
    // An idle connection that dies (a database restart) is an 'error' event: without a listener Node.js exits.
    pool.on('error', (error) => console.error('idle database connection failed:', error.message));
    return {
      storeOptions: { pool },
      label: 'DATABASE_URL',
      upgradeAdvice: 'run `npx connect-pg-simple migrate` with the same DATABASE_URL; the demo picks it up as it runs',
      query: async (text, values) => (await pool.query(text, values)).rows,
      close: () => pool.end(),
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const dataDir = resolve(process.env.DEMO_DATA_DIR ?? '.tmp/demo-pglite');
  mkdirSync(dataDir, { recursive: true });
  const pglite = await PGlite.create(dataDir);
  return {
    storeOptions: { pglite },
    label: `PGlite in-process (${dataDir})`,
    upgradeAdvice: `stop the demo and delete ${dataDir} (it holds the demo's data only)`,
    query: async (text, values) => (await pglite.query(text, values)).rows,
    close: () => pglite.close(),
  };
}
