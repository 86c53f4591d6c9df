// The demo's pages and forms. Every POST is a form with the session's CSRF token (requireForm).
import express from 'express';
import { AccountError, countAccounts, isAdmin, signIn, signInsPerHour, signUp } from './accounts.mjs';
import { csrfToken, requireForm } from './csrf.mjs';
import { clientError } from './errors.mjs';
import { accountPage, adminPage, homePage } from './pages.mjs';

/**
 * @param {{ store: any, query: (text: string, values?: unknown[]) => Promise<any[]>, databaseLabel: string,
 *   sessionTable: string, touchAfterSeconds: number, cookieName: string }} demo
 */
export function demoRoutes({ store, query, databaseLabel, sessionTable, touchAfterSeconds, cookieName }) {
  const router = express.Router();

  const requireSignIn = (req, res, next) => {
    if (req.session.userId !== undefined) return next();
    if (req.method === 'GET') return res.redirect(303, '/');
    next(clientError(401, 'Sign in first.'));
  };

  /** Checked on every request, in the database: a role taken away counts at once. */
  const requireAdmin = async (req, _res, next) => {
    if (await isAdmin(query, req.session.userId)) return next();
    next(clientError(403, 'Only the admin may open this page (in this demo, the first account made).'));
  };

  /** A message for the next page the user sees, once. */
  const takeNotice = (session) => {
    const notice = session.notice;
    if (notice !== undefined) delete session.notice;
    return notice;
  };

  const sendHome = async (req, res, status = 200, error = undefined) => {
    const { session } = req;
    res
      .status(status)
      .type('html')
      .send(
        homePage({
          user: session.username,
          admin: session.isAdmin,
          csrf: csrfToken(session),
          views: session.views ?? 0,
          liveSessions: await store.length(),
          databaseLabel,
          error,
        }),
      );
  };

  /**
   * Saves the session, then redirects. express-session saves at the end of the response, after the headers are out:
   * a browser follows the redirect at once, and its next request could read the session from before this one.
   */
  const saveAndRedirect = (req, res, path) =>
    new Promise((resolve, reject) =>
      req.session.save((error) => {
        if (error) return reject(error);
        res.redirect(303, path);
        resolve();
      }),
    );

  /** A new session id for the signed-in user: an id an attacker planted before sign-in is worth nothing. */
  const startSignedInSession = (req, account) =>
    new Promise((resolve, reject) =>
      req.session.regenerate((error) => {
        if (error) return reject(error);
        req.session.userId = String(account.id);
        req.session.username = account.username;
        resolve();
      }),
    );

  const endSession = (req, res, next) =>
    req.session.destroy((error) => {
      if (error) return next(error);
      res.clearCookie(cookieName).redirect(303, '/');
    });

  /** A sign-in or sign-up: the account, then a fresh session; a refused form shows the home page with why. */
  const accountForm = (check) => async (req, res) => {
    let account;
    try {
      account = await check(query, req.body, { ip: req.ip ?? 'unknown' });
    } catch (error) {
      if (!(error instanceof AccountError)) throw error;
      if (error.retryAfterSeconds !== undefined) res.set('Retry-After', String(error.retryAfterSeconds));
      return sendHome(req, res, error.status, error.message);
    }
    await startSignedInSession(req, account);
    // For the menu only: the admin page asks the database on every request.
    req.session.isAdmin = await isAdmin(query, account.id);
    await saveAndRedirect(req, res, '/');
  };

  router.get('/', (req, res) => {
    req.session.views = (req.session.views ?? 0) + 1;
    return sendHome(req, res);
  });

  router.post('/signup', requireForm, accountForm(signUp));
  router.post('/login', requireForm, accountForm(signIn));
  router.post('/logout', requireForm, endSession);

  router.get('/account', requireSignIn, async (req, res) => {
    const currentHandle = store.sessionHandle(req.sessionID);
    const sessions = await store.userSessions(req.session.userId);
    const devices = sessions
      .map((session) => ({ ...session, current: session.handle === currentHandle }))
      .sort((a, b) => Number(b.current) - Number(a.current));
    const { session } = req;
    res.type('html').send(
      accountPage({
        user: session.username,
        admin: session.isAdmin,
        csrf: csrfToken(session),
        devices,
        notice: takeNotice(session),
        touchAfterSeconds,
      }),
    );
  });

  router.post('/account/sign-out-device', requireForm, requireSignIn, async (req, res, next) => {
    const { handle } = req.body;
    if (typeof handle !== 'string' || handle === '' || handle.length > 200) {
      throw clientError(400, 'Which device? The form named none.');
    }
    if (handle === store.sessionHandle(req.sessionID)) return endSession(req, res, next);
    // With the user's id: a handle of someone else's session revokes nothing.
    const revoked = await store.destroySession(handle, { userId: req.session.userId });
    req.session.notice = revoked ? 'Signed out that device.' : 'That device was already signed out.';
    await saveAndRedirect(req, res, '/account');
  });

  router.post('/account/sign-out-others', requireForm, requireSignIn, async (req, res) => {
    const revoked = await store.destroyUserSessions(req.session.userId, { except: req.sessionID });
    req.session.notice = `Signed out ${revoked} other device(s).`;
    await saveAndRedirect(req, res, '/account');
  });

  /** Live sessions per signed-in user, most first; undefined on a table without users (before schema 3). */
  const sessionsPerUser = async () => {
    try {
      return await query(
        `SELECT a.username, count(*)::int AS sessions, max(s.touched) AS "lastActive"
         FROM "${sessionTable}" s JOIN demo_account a ON s.user_id = a.id::text
         WHERE s.expire > now()
         GROUP BY a.username ORDER BY sessions DESC, a.username LIMIT 20`,
      );
    } catch (error) {
      if (error?.code === '42703') return undefined;
      throw error;
    }
  };

  router.get('/admin', requireSignIn, requireAdmin, async (req, res) => {
    const [counts] = await query(
      `SELECT count(*) FILTER (WHERE expire > now())::int AS live, count(*) FILTER (WHERE expire <= now())::int AS expired
       FROM "${sessionTable}"`,
    );
    const { session } = req;
    res.type('html').send(
      adminPage({
        user: session.username,
        admin: true,
        csrf: csrfToken(session),
        counts: { ...counts, accounts: await countAccounts(query) },
        perUser: await sessionsPerUser(),
        signIns: await signInsPerHour(query),
        notice: takeNotice(session),
      }),
    );
  });

  router.post('/admin/prune', requireForm, requireSignIn, requireAdmin, async (req, res) => {
    const removed = await store.pruneSessions();
    req.session.notice = `Pruned ${removed} expired session(s).`;
    await saveAndRedirect(req, res, '/admin');
  });

  return router;
}
