// CSRF protection: a random token per session, sent back by every form in a hidden field.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { clientError } from './errors.mjs';

/** The session's token, made on first use (a new session, after sign-in, gets a new one). */
export function csrfToken(session) {
  session.csrfToken ??= randomBytes(32).toString('base64url');
  return session.csrfToken;
}

function tokenMatches(sent, expected) {
  if (typeof sent !== 'string' || typeof expected !== 'string') return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Middleware for POST routes: a form (url-encoded) carrying the session's token, else 415 or 403. */
export function requireForm(req, _res, next) {
  if (req.headers['content-type'] !== undefined && !req.is('application/x-www-form-urlencoded')) {
    return next(clientError(415, 'Forms are sent as application/x-www-form-urlencoded.'));
  }
  if (!tokenMatches(req.body?._csrf, req.session.csrfToken)) {
    return next(
      clientError(403, 'This form has expired or did not come from this site. Reload the page and try again.'),
    );
  }
  next();
}
