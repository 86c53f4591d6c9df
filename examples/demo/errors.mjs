// Every request ends in a page: a 4xx for a bad request, a 500 for anything unexpected. The process keeps serving.
import { errorPage } from './pages.mjs';

/** An error whose message is shown to the user with its status (4xx). */
export function clientError(status, message) {
  return Object.assign(new Error(message), { status, expose: true });
}

/**
 * While the database is away, the store says `disconnect` and express-session lets requests through without a
 * session (see docs/observability.md): they get a 503 page instead of a 500 from a route reading `req.session`.
 */
export function requireSession(req, res, next) {
  if (req.session !== undefined) return next();
  res
    .set('Retry-After', '5')
    .status(503)
    .type('html')
    .send(errorPage(503, 'The database is away for a moment: try again shortly.'));
}

export function notFound(_req, res) {
  res.status(404).type('html').send(errorPage(404, 'There is no page here.'));
}

/** Express's error middleware (four arguments): body-parser's 400/413/415, our 4xx, and the rest as 500. */
export function errorHandler(error, req, res, next) {
  const status = Number(error?.status ?? error?.statusCode);
  const isClientError = Number.isInteger(status) && status >= 400 && status < 500;
  if (!isClientError) console.error(`${req.method} ${req.originalUrl} failed:`, error);
  if (res.headersSent) return next(error);
  const message = isClientError && error.expose !== false ? error.message : 'Something went wrong on our side.';
  res
    .status(isClientError ? status : 500)
    .type('html')
    .send(errorPage(isClientError ? status : 500, message));
}
