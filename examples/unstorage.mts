// unstorage on PostgreSQL: the storage behind Nitro/Nuxt's useStorage() and Astro's sessions.
import postgresDriver from 'connect-pg-simple/unstorage';
import pg from 'pg';
import { createStorage } from 'unstorage';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
pool.on('error', (error) => console.error('idle PostgreSQL connection failed:', error.message));
// A table of its own: clear() empties the whole table.
const storage = createStorage({ driver: postgresDriver({ pool, tableName: 'kv', createTableIfMissing: true }) });

await storage.setItem('session:abc', { user: 'ada' }, { ttl: 3600 }); // seconds, by the database's clock
console.log(await storage.getItem('session:abc')); // { user: 'ada' }
await storage.removeItem('session:abc');
await storage.dispose(); // stops pruning; the pool is yours to end
await pool.end();
