// "Your devices" on Express + sessiond: sign in, see every browser signed in
// to your account (device, IP address, last seen, this device), sign out all
// other locations. The session is express-session's req.session, on
// sessiond through sessiond/express; flash and CSRF come from its helpers.
'use strict';

const { express, sessiondExpress } = require('./deps');
const { checkPassword } = require('./users');

const { SessiondStore, session, csrf, errorHandler } = sessiondExpress;

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

/** A short "Browser on OS" label from a User-Agent header. */
function describeDevice(userAgent = '') {
  const browsers = [['Edg/', 'Edge'], ['HeadlessChrome', 'Headless Chrome'], ['Chrome/', 'Chrome'],
    ['Chromium/', 'Chromium'], ['Firefox/', 'Firefox'], ['Safari/', 'Safari'], ['curl/', 'curl']];
  const systems = [['Android', 'Android'], ['iPhone', 'iPhone'], ['iPad', 'iPad'],
    ['Windows', 'Windows'], ['Mac OS X', 'macOS'], ['CrOS', 'ChromeOS'], ['Linux', 'Linux']];
  const browser = (browsers.find(([t]) => userAgent.includes(t)) || [0, 'Unknown browser'])[1];
  const system = (systems.find(([t]) => userAgent.includes(t)) || [0, ''])[1];
  return system ? `${browser} on ${system}` : browser;
}

function ago(unixSeconds, now = Date.now() / 1000) {
  const s = Math.max(0, Math.floor(now - unixSeconds));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

const REASONS = {
  signed_out_elsewhere: 'You were signed out from another of your devices.',
  password_changed: 'Your password was changed: please sign in again.',
  admin: 'An administrator signed you out.',
};

function page(title, body, { user, csrfToken, flashes = [] }) {
  const nav = user ? ` · signed in as <span id="user">${escape(user)}</span>
    <form class="inline" method="post" action="/logout">
      <input type="hidden" name="_csrf" value="${escape(csrfToken)}">
      <button type="submit" id="sign-out">Sign out</button></form>` : '';
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font:16px system-ui,sans-serif;margin:2rem auto;max-width:48rem}
table{border-collapse:collapse;width:100%}td,th{padding:.4rem;border-bottom:1px solid #ddd;text-align:left}
.current{background:#eef8ee}.this{font-weight:bold}.inline{display:inline}.flash{background:#ffd;padding:.5rem}</style>
</head><body><nav>sessiond example${nav}</nav>
${flashes.map((m) => `<p class="flash">${escape(m)}</p>`).join('')}
${body}</body></html>`;
}

/** The app on a sessiond Client (one per process). */
function createApp({ client, logger }) {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ store: new SessiondStore({ client, logger }), logger }));
  app.use(csrf());

  // Every page shows the flash queue (popped: each message shown once) and
  // why the browser's previous session ended, if it did.
  async function render(req, res, title, body, status = 200) {
    const flashes = await req.sessiond.flashes();
    const reason = REASONS[req.sessiond.revokedReason];
    if (reason) flashes.unshift(reason);
    const csrfToken = await req.sessiond.csrfToken();
    res.status(status).type('html').send(page(title, body, {
      user: req.session.userId, csrfToken, flashes,
    }));
  }

  app.get('/', (req, res) => res.redirect(req.session.userId ? '/devices' : '/login'));

  app.get('/login', async (req, res) => {
    if (req.session.userId) return res.redirect('/devices');
    const token = escape(await req.sessiond.csrfToken());
    return render(req, res, 'Sign in', `<h1>Sign in</h1>
<form method="post" action="/login" id="login">
  <input type="hidden" name="_csrf" value="${token}">
  <label>User <input name="user" id="user-name" autocomplete="username"></label>
  <label>Password <input name="password" id="password" type="password" autocomplete="current-password"></label>
  <button type="submit" id="sign-in">Sign in</button>
</form><p>Demo users: alice / wonderland, bob / builder.</p>`);
  });

  app.post('/login', async (req, res, next) => {
    const user = String(req.body.user || '');
    if (!(await checkPassword(user, req.body.password || ''))) {
      req.sessiond.flash('Wrong user name or password.');
      return res.redirect('/login');
    }
    // Authenticated first, then the session is regenerated (express-session's
    // idiom); setting userId makes sessiond's LOGIN of it.
    return req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = user;
      req.sessiond.flash(`Signed in as ${user}.`);
      return res.redirect('/devices');
    });
  });

  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => {
      if (err) return next(err);
      req.sessiond.flash('Signed out.');
      return res.redirect('/login');
    });
  });

  app.get('/devices', async (req, res) => {
    if (!req.session.userId) {
      req.sessiond.flash('Please sign in.');
      return res.redirect('/login');
    }
    const devices = await req.sessiond.devices();
    const rows = devices.map((d) => `<tr class="device${d.current ? ' current' : ''}">
  <td title="${escape(d.userAgent)}">${escape(describeDevice(d.userAgent))}</td>
  <td>${escape(d.ip || 'unknown')}</td><td>${escape(ago(d.lastSeenAt))}</td>
  <td>${escape(ago(d.authenticatedAt || d.createdAt))}</td>
  <td>${d.current ? '<span class="this">this device</span>' : ''}</td></tr>`).join('\n');
    const token = escape(await req.sessiond.csrfToken());
    return render(req, res, 'Your devices', `<h1>Your devices</h1>
<p>These browsers are signed in to your account.</p>
<table id="devices"><thead><tr><th>Device</th><th>IP address</th><th>Last seen</th>
<th>Signed in</th><th></th></tr></thead><tbody>
${rows}
</tbody></table>
<form method="post" action="/devices/sign-out-others">
  <input type="hidden" name="_csrf" value="${token}">
  <button type="submit" id="sign-out-others"${devices.length < 2 ? ' disabled' : ''}>Sign out all other locations</button>
</form>`);
  });

  app.post('/devices/sign-out-others', async (req, res) => {
    if (!req.session.userId) return res.redirect('/login');
    const ended = await req.sessiond.signOutOthers();
    req.sessiond.flash(ended === 1 ? 'Signed out 1 other location.'
      : `Signed out ${ended} other locations.`);
    return res.redirect('/devices');
  });

  app.use(errorHandler()); // 503 page while sessiond is down, 403, 409
  return app;
}

module.exports = { createApp, describeDevice, ago };
