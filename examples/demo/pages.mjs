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
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;border-bottom:1px solid #dde;padding-bottom:.5rem;margin-bottom:1rem}
h1{font-size:clamp(1.4rem,5vw,2rem);line-height:1.2}
header strong{margin-right:auto}
header nav{display:flex;gap:.5rem 1rem;align-items:center}
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
svg.chart{width:100%;height:auto;max-width:48rem}
.legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em;vertical-align:middle}
@media (max-width:40rem){
body{margin:1rem auto}
td:first-child{min-width:0}
table.stack thead{display:none}
table.stack tr{display:block;border-bottom:1px solid #e4e6ec;padding:.4rem 0}
table.stack td{display:block;border:0;padding:.15rem .5rem}
table.stack td[data-label]::before{content:attr(data-label) ": ";color:#667}
}
`;

function layout({ title, user, admin, csrf }, body) {
  return html`<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${title} · connect-pg-simple demo</title>
<style>${new Html(STYLE)}</style>
<header><strong><a href="/">connect-pg-simple demo</a></strong>
${
  user
    ? html`<nav><a href="/account">Account</a> ${admin ? html`<a href="/admin">Admin</a>` : ''}
<form class="inline" method="post" action="/logout"><input type="hidden" name="_csrf" value="${csrf}"><button>Sign out ${user}</button></form></nav>`
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
export function homePage({ user, admin, csrf, views, liveSessions, databaseLabel, error }) {
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
    { title: 'Welcome', user, admin, csrf },
    html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<p>${user ? html`Signed in as <strong>${user}</strong>.` : 'Not signed in.'}
You have seen this page <strong>${views}</strong> time(s) in this session.</p>
<p>Sessions alive in the store: <strong>${liveSessions}</strong>. Database: <code>${databaseLabel}</code>.</p>
${user ? html`<p>See <a href="/account">where you're signed in</a>.</p>` : forms}`,
  );
}

/** "Where you're signed in": the user's sessions from `store.userSessions()`, this device first. */
export function accountPage({ user, admin, csrf, devices, notice, touchAfterSeconds }) {
  const rows = devices.map(
    ({ handle, current, details, createdAt, lastActiveAt, expiresAt }) => html`<tr class="${current ? 'current' : ''}">
<td><strong>${details?.device ?? 'Unknown device'}</strong>${current ? html`<span class="badge">This device</span>` : ''}
<br><span class="muted">IP ${details?.ip ?? 'unknown'}</span></td>
<td data-label="Signed in">${time(typeof details?.signedInAt === 'string' ? new Date(details.signedInAt) : createdAt)}</td>
<td data-label="Last active">${time(lastActiveAt)}</td>
<td data-label="Expires">${time(expiresAt)}</td>
<td><form class="inline" method="post" action="/account/sign-out-device">${hidden(csrf)}
<input type="hidden" name="handle" value="${handle}"><button>Sign out this device</button></form></td>
</tr>`,
  );
  return layout(
    { title: "Where you're signed in", user, admin, csrf },
    html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<p>Signed in as <strong>${user}</strong> on ${devices.length} device(s).</p>
<table class="stack"><thead><tr><th>Device</th><th>Signed in</th><th>Last active</th><th>Expires</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>
<form method="post" action="/account/sign-out-others">${hidden(csrf)}<button>Sign out all other devices</button></form>
<p class="muted">"Last active" is as precise as the store's lazy touch: a request within ${touchAfterSeconds} s of
the last recorded one does not write it.</p>`,
  );
}

const CHART = { width: 480, height: 140, top: 16, bottom: 22, left: 28 };

/** Sign-ins per hour as an SVG bar chart, drawn here: successful ones green, failed ones stacked on them in red. */
function signInChart(hours) {
  const most = Math.max(1, ...hours.map((h) => h.succeeded + h.failed));
  const plotHeight = CHART.height - CHART.top - CHART.bottom;
  const slot = (CHART.width - CHART.left) / hours.length;
  const y = (count) => CHART.top + plotHeight - (count / most) * plotHeight;
  const bars = hours.map(({ hour, succeeded, failed }, i) => {
    const x = CHART.left + i * slot + 1;
    const label = `${hour.toISOString().slice(11, 13)}:00 UTC: ${succeeded} signed in, ${failed} failed`;
    return html`<g><title>${label}</title>
<rect x="${x}" y="${y(succeeded)}" width="${slot - 2}" height="${y(0) - y(succeeded)}" fill="#2f7d32"/>
<rect x="${x}" y="${y(succeeded + failed)}" width="${slot - 2}" height="${y(succeeded) - y(succeeded + failed)}" fill="#c62828"/>
${i % 6 === 0 ? html`<text x="${x}" y="${CHART.height - 6}" font-size="10" fill="#667">${hour.toISOString().slice(11, 16)}</text>` : ''}</g>`;
  });
  return html`<svg class="chart" id="sign-in-chart" viewBox="0 0 ${CHART.width} ${CHART.height}" role="img"
aria-label="Sign-ins per hour, last ${hours.length} hours: ${hours.reduce((n, h) => n + h.succeeded, 0)} signed in, ${hours.reduce((n, h) => n + h.failed, 0)} failed">
<text x="0" y="${CHART.top}" font-size="10" fill="#667">${most}</text>
<text x="0" y="${y(0)}" font-size="10" fill="#667">0</text>
<line x1="${CHART.left}" x2="${CHART.width}" y1="${y(0)}" y2="${y(0)}" stroke="#bbc"/>
${bars}<text x="${CHART.width}" y="${CHART.height - 6}" font-size="10" fill="#667" text-anchor="end">now</text></svg>
<p class="legend muted"><span style="background:#2f7d32"></span>signed in (and signed up)<span style="background:#c62828"></span>failed</p>`;
}

/** Sessions per user: the users with the most live sessions. */
function perUserTable(perUser) {
  if (perUser === undefined) {
    return html`<p class="muted">The session table has no user column yet: run <code>npx connect-pg-simple migrate</code>.</p>`;
  }
  if (perUser.length === 0) return html`<p class="muted">No one is signed in.</p>`;
  return html`<table class="stack" id="sessions-per-user"><thead><tr><th>User</th><th>Live sessions</th><th>Last active</th></tr></thead>
<tbody>${perUser.map(
    ({ username, sessions, lastActive }) =>
      html`<tr><td>${username}</td><td data-label="Live sessions">${sessions}</td><td data-label="Last active">${time(new Date(lastActive))}</td></tr>`,
  )}</tbody></table>`;
}

/** For the demo's admin: session counts, sessions per user and sign-ins over the last day. */
export function adminPage({ user, admin, csrf, counts, perUser, signIns, notice }) {
  return layout(
    { title: 'Admin', user, admin, csrf },
    html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<p class="muted">Only the admin sees this page: in this demo, the first account made.</p>
<dl>
<dt>Live sessions</dt><dd id="live-sessions">${counts.live}</dd>
<dt>Expired sessions (not yet pruned)</dt><dd id="expired-sessions">${counts.expired}</dd>
<dt>Accounts</dt><dd id="accounts">${counts.accounts}</dd>
</dl>
<p class="muted">Counted with one query on the session table: the figures <code>npx connect-pg-simple stats</code>
prints. Expired sessions are invisible to the store and go at its next prune.</p>
<form method="post" action="/admin/prune">${hidden(csrf)}<button>Prune expired sessions now</button></form>
<h2>Sessions per user</h2>
${perUserTable(perUser)}
<h2>Sign-ins, last 24 hours</h2>
${signInChart(signIns)}`,
  );
}

const TITLES = {
  400: 'Bad request',
  401: 'Not signed in',
  403: 'Forbidden',
  429: 'Too many attempts',
  404: 'Not found',
  413: 'Too large',
  415: 'Unsupported form',
  500: 'Server error',
  503: 'Unavailable',
};

/** Any error's page. It needs no session: the error may have come before the session was loaded. */
export function errorPage(status, message) {
  return layout(
    { title: `${status} ${TITLES[status] ?? 'Error'}` },
    html`<p class="error" role="alert">${message}</p><p><a href="/">Back to the home page</a></p>`,
  );
}
