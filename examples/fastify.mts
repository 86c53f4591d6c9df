// @fastify/session with the store class used directly.
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { PGStore } from 'connect-pg-simple';
import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const app = Fastify();
app.register(fastifyCookie);
app.register(fastifySession, {
  secret: process.env.SESSION_SECRET ?? 'a secret of at least thirty-two characters',
  store: new PGStore({ pool }),
  cookie: { maxAge: 30 * 24 * 60 * 60 * 1000 },
});
await app.listen({ port: 3000 });
