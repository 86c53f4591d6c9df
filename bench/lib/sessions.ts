import { randomBytes } from 'node:crypto';

export const DAY_MS = 86_400_000;

/** A session as express-session hands it to a store (its JSON form: `cookie.expires` a string after a load). */
export interface BenchSession {
  cookie: {
    originalMaxAge: number;
    expires: string | Date;
    secure: boolean;
    httpOnly: boolean;
    path: string;
    sameSite: string;
  };
  user: { id: number; name: string; roles: string[] };
  csrfSecret: string;
  views: number;
  [key: string]: unknown;
}

/** An id like express-session's (uid-safe, 24 random bytes). */
export function newSid(): string {
  return randomBytes(24).toString('base64url');
}

/** A typical small session: a cookie of one day, a logged-in user, a CSRF secret, a counter (≈ 260 bytes of JSON). */
export function newSession(i: number, now: number = Date.now()): BenchSession {
  return {
    cookie: {
      originalMaxAge: DAY_MS,
      expires: new Date(now + DAY_MS).toISOString(),
      secure: false,
      httpOnly: true,
      path: '/',
      sameSite: 'lax',
    },
    user: { id: i, name: `user${i}@example.com`, roles: ['reader', 'writer'] },
    csrfSecret: randomBytes(18).toString('base64url'),
    views: 0,
  };
}

/**
 * What express-session does to a loaded session during a request: the cookie's expiry rolls
 * forward (Session#touch → resetMaxAge), and sometimes the app changes something. Returns whether
 * the session was changed (then it is saved with `set`, otherwise refreshed with `touch`).
 */
export function useSession(session: BenchSession, writeShare: number): boolean {
  session.cookie.expires = new Date(Date.now() + session.cookie.originalMaxAge);
  if (Math.random() >= writeShare) return false;
  session.views = (session.views ?? 0) + 1;
  return true;
}
