// React Router 7 (framework or data mode; Remix alike): app/sessions.server.ts
import { createPostgresSessionStorage } from 'connect-pg-simple/react-router';
import pg from 'pg';
import { createCookie, redirect } from 'react-router';

type SessionData = { userId: string };
type SessionFlashData = { error: string };

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
pool.on('error', (error) => console.error('idle PostgreSQL connection failed:', error.message));

export const { getSession, commitSession, destroySession } = createPostgresSessionStorage<
  SessionData,
  SessionFlashData
>({
  pool,
  createTableIfMissing: true,
  cookie: createCookie('__session', {
    secrets: [process.env.SESSION_SECRET ?? 'change me'],
    httpOnly: true,
    sameSite: 'lax',
    maxAge: 60 * 60 * 24 * 7, // also the row's lifetime
  }),
});

// In a route module: a loader and an action.
export async function loader({ request }: { request: Request }) {
  const session = await getSession(request.headers.get('Cookie'));
  return Response.json(
    { userId: session.get('userId') ?? null, error: session.get('error') ?? null },
    // Committed on every request: rolls the cookie; an unchanged session skips the write (lazy touch).
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
