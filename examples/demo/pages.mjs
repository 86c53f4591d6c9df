// The demo's pages: plain server-rendered HTML. `html` escapes every value put into it, unless it is html itself.

class Html {
  constructor(text) {
    this.text = text;
  }
}

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
const render = (value) => {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(value);
};

export function html(strings, ...values) {
  return new Html(strings.reduce((out, text, i) => out + text + (i < values.length ? render(values[i]) : ''), ''));
}

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
header{display:flex;gap:1rem;align-items:center;border-bottom:1px solid #dde;padding-bottom:.5rem;margin-bottom:1rem}
header strong{margin-right:auto}
a{color:#2450b3}
code{background:#eef0f4;padding:0 .3em;border-radius:3px}
form.inline{display:inline;margin:0}
fieldset{border:1px solid #dde;border-radius:6px;padding:.5rem 1rem 1rem;flex:1}
.forms{display:flex;gap:1rem;flex-wrap:wrap}
label{display:block;margin:.4rem 0}
input{font:inherit;padding:.25rem .4rem;width:100%;box-sizing:border-box}
button{font:inherit;padding:.25rem .8rem;cursor:pointer;white-space:nowrap}
time{white-space:nowrap}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #e4e6ec;vertical-align:top}
tr.current{background:#eef7ee}
.badge{background:#2f7d32;color:#fff;border-radius:3px;padding:0 .4em;font-size:.8em;margin-left:.4em;white-space:nowrap}
td:first-child{min-width:14rem}
main{overflow-x:auto}
.muted{color:#667}
.notice{background:#eef3ff;border:1px solid #c9d6f5;padding:.5rem 1rem;border-radius:6px}
.error{background:#fdeeee;border:1px solid #f0c4c4;padding:.5rem 1rem;border-radius:6px}
dl{display:grid;grid-template-columns:max-content auto;gap:.3rem 1.5rem}
dt{font-weight:600}dd{margin:0}
`;

function layout({ title, user, csrf }, body) {
  return html`<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${title} · connect-pg-simple demo</title>
<style>${new Html(STYLE)}</style>
<header><strong><a href="/">connect-pg-simple demo</a></strong>
${
  user
    ? html`<a href="/account">Account</a> <a href="/admin">Admin</a>
<form class="inline" method="post" action="/logout"><input type="hidden" name="_csrf" value="${csrf}"><button>Sign out ${user}</button></form>`
    : html`<span class="muted">Not signed in</span>`
}
</header>
<main>
<h1>${title}</h1>
${body}
</main>
</html>`.text;
}

const hidden = (csrf) => html`<input type="hidden" name="_csrf" value="${csrf}">`;

function time(date) {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) return html`<span class="muted">unknown</span>`;
  const iso = date.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time> <span class="muted">(${ago(date)})</span>`;
}

function ago(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  const span = Math.abs(seconds);
  if (span < 60) return 'just now';
  const [amount, unit] = span < 3600 ? [span / 60, 'min'] : span < 86400 ? [span / 3600, 'h'] : [span / 86400, 'd'];
  return seconds >= 0 ? `${Math.round(amount)} ${unit} ago` : `in ${Math.round(amount)} ${unit}`;
}

/** The home page: the page counter, and sign-in / sign-up forms or who is signed in. */
export function homePage({ user, csrf, views, liveSessions, databaseLabel, error }) {
  const forms = html`<div class="forms">
<fieldset><legend>Sign in</legend><form method="post" action="/login">${hidden(csrf)}
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Sign in</button></form></fieldset>
<fieldset><legend>Create an account</legend><form method="post" action="/signup">${hidden(csrf)}
<label>Username <input name="username" autocomplete="username" required minlength="2" maxlength="40"></label>
<label>Password <input name="password" type="password" autocomplete="new-password" required minlength="8"></label>
<button>Create account</button></form></fieldset>
</div>`;
  return layout(
    { title: 'Welcome', user, csrf },
    html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<p>${user ? html`Signed in as <strong>${user}</strong>.` : 'Not signed in.'}
You have seen this page <strong>${views}</strong> time(s) in this session.</p>
<p>Sessions alive in the store: <strong>${liveSessions}</strong>. Database: <code>${databaseLabel}</code>.</p>
${user ? html`<p>See <a href="/account">where you're signed in</a>.</p>` : forms}`,
  );
}

/** "Where you're signed in": the user's sessions from `store.userSessions()`, this device first. */
export function accountPage({ user, csrf, devices, notice, touchAfterSeconds }) {
  const rows = devices.map(
    ({ handle, current, details, createdAt, lastActiveAt, expiresAt }) => html`<tr class="${current ? 'current' : ''}">
<td><strong>${details?.device ?? 'Unknown device'}</strong>${current ? html`<span class="badge">This device</span>` : ''}
<br><span class="muted">IP ${details?.ip ?? 'unknown'}</span></td>
<td>${time(typeof details?.signedInAt === 'string' ? new Date(details.signedInAt) : createdAt)}</td>
<td>${time(lastActiveAt)}</td>
<td>${time(expiresAt)}</td>
<td><form class="inline" method="post" action="/account/sign-out-device">${hidden(csrf)}
<input type="hidden" name="handle" value="${handle}"><button>Sign out this device</button></form></td>
</tr>`,
  );
  return layout(
    { title: "Where you're signed in", user, csrf },
    html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<p>Signed in as <strong>${user}</strong> on ${devices.length} device(s).</p>
<table><thead><tr><th>Device</th><th>Signed in</th><th>Last active</th><th>Expires</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>
<form method="post" action="/account/sign-out-others">${hidden(csrf)}<button>Sign out all other devices</button></form>
<p class="muted">"Last active" is as precise as the store's lazy touch: a request within ${touchAfterSeconds} s of
the last recorded one does not write it.</p>`,
  );
}

/** Session counts from the store's table. */
export function adminPage({ user, csrf, counts, notice }) {
  return layout(
    { title: 'Admin', user, csrf },
    html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<p class="muted">In this demo any signed-in user sees this page; a real app would check a role.</p>
<dl>
<dt>Live sessions</dt><dd id="live-sessions">${counts.live}</dd>
<dt>Expired sessions (not yet pruned)</dt><dd id="expired-sessions">${counts.expired}</dd>
<dt>Accounts</dt><dd id="accounts">${counts.accounts}</dd>
</dl>
<p class="muted">Counted with one query on the session table: the figures <code>npx connect-pg-simple stats</code>
prints. Expired sessions are invisible to the store and go at its next prune.</p>
<form method="post" action="/admin/prune">${hidden(csrf)}<button>Prune expired sessions now</button></form>`,
  );
}

const TITLES = {
  400: 'Bad request',
  401: 'Not signed in',
  403: 'Forbidden',
  404: 'Not found',
  413: 'Too large',
  415: 'Unsupported form',
  500: 'Server error',
};

/** Any error's page. It needs no session: the error may have come before the session was loaded. */
export function errorPage(status, message) {
  return layout(
    { title: `${status} ${TITLES[status] ?? 'Error'}` },
    html`<p class="error" role="alert">${message}</p><p><a href="/">Back to the home page</a></p>`,
  );
}
