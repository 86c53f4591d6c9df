// @fastify/session with the store class used directly.
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { PGStore } from 'connect-pg-simple';
import Fastify from 'fastify';
import pg from 'pg';

declare module 'fastify' {
  interface Session {
    views: number;
  }
}

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
pool.on('error', (error) => console.error('idle PostgreSQL connection failed:', error.message));

const app = Fastify();
app.register(fastifyCookie); // @fastify/session needs it
app.register(fastifySession, {
  secret: process.env.SESSION_SECRET ?? 'a secret of at least thirty-two characters',
  store: new PGStore({ pool, createTableIfMissing: true }),
  // @fastify/session's cookies are secure (HTTPS only) by default: over plain HTTP the session would be lost.
  // 'auto' makes them secure exactly when the request came over HTTPS.
  cookie: { maxAge: 30 * 24 * 60 * 60 * 1000, secure: 'auto' },
});
app.get('/', async (request) => {
  request.session.views = (request.session.views ?? 0) + 1;
  return `views: ${request.session.views}`;
});
await app.listen({ port: 3000 });
