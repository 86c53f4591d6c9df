// React Router 7 sessions in PostgreSQL (framework or data mode; Remix alike). In an app, the storage goes in
// app/sessions.server.ts and the loader and action in a route module; here a few lines of node:http serve them.
import { createServer } from 'node:http';
import { createPostgresSessionStorage } from 'connect-pg-simple/react-router';
import pg from 'pg';
import { createCookie, redirect } from 'react-router';

type SessionData = { userId: string; views: number };
type SessionFlashData = { error: string };

const secret = process.env.SESSION_SECRET;
if (!secret) throw new Error('Set SESSION_SECRET to a long random string: SESSION_SECRET=$(openssl rand -hex 32)');

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
pool.on('error', (error) => console.error('idle PostgreSQL connection failed:', error.message));

export const { getSession, commitSession, destroySession } = createPostgresSessionStorage<
  SessionData,
  SessionFlashData
>({
  pool,
  createTableIfMissing: true,
  cookie: createCookie('__session', {
    secrets: [secret],
    httpOnly: true,
    sameSite: 'lax',
    maxAge: 60 * 60 * 24 * 7, // also the row's lifetime
  }),
});

// In a route module: a loader and an action.
export async function loader({ request }: { request: Request }) {
  const session = await getSession(request.headers.get('Cookie'));
  const views = (session.get('views') ?? 0) + 1;
  session.set('views', views);
  return Response.json(
    { userId: session.get('userId') ?? null, views, error: session.get('error') ?? null },
    // Committed on every request: rolls the cookie; a session whose data did not change costs no write (lazy touch).
    { headers: { 'Set-Cookie': await commitSession(session) } },
  );
}

export async function action({ request }: { request: Request }) {
  const session = await getSession(request.headers.get('Cookie'));
  const form = await request.formData();
  if (form.get('intent') === 'logout') {
    // Deletes the row: final, even for this user's requests in flight.
    return redirect('/', { headers: { 'Set-Cookie': await destroySession(session) } });
  }
  session.set('userId', String(form.get('userId')));
  return redirect('/', { headers: { 'Set-Cookie': await commitSession(session) } });
}

// Served by Node.js alone: each request as a web Request to the loader (GET) or the action (POST).
createServer(async (req, res) => {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = new Request(new URL(req.url ?? '/', `http://${req.headers.host}`), {
      method: req.method,
      headers: Object.entries(req.headers).map(([name, value]) => [name, String(value)]),
      body: req.method === 'POST' ? Buffer.concat(chunks) : undefined,
    });
    const response = req.method === 'POST' ? await action({ request }) : await loader({ request });
    res.writeHead(response.status, Object.fromEntries(response.headers)).end(await response.text());
  } catch (error) {
    console.error(error);
    res.writeHead(500).end();
  }
}).listen(3000);
