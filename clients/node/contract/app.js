// The contract app (ROUND.md, "The contract app"): the routes the shared
// suite in tests/contract/ drives against every integration, written with
// express-session's own API (req.session, regenerate, destroy) and the
// helpers of sessiond/express. Also used by this package's own tests.
'use strict';

const express = require('express');

const { SessiondStore, session, csrf } = require('../lib/express');
const errors = require('../lib/errors');

/** The Express app on a Client (and optionally an AdminClient). Tests may
 * pass their own store, session options and extra routes. */
function makeApp({ client, adminClient, sessionOptions = {}, store: givenStore, extraRoutes, logErrors = true,
}) {
  const app = express();
  app.set('etag', false);

  // Touches no session: mounted before it.
  app.get('/health', (req, res) => res.json({ ok: true }));

  const store = givenStore || new SessiondStore({ client, adminClient });
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ store, ...sessionOptions }));
  app.use(csrf());

  app.get('/whoami', (req, res) => {
    res.json({ user: req.session.userId || '' });
  });

  app.get('/get', (req, res) => {
    const key = String(req.query.key || '');
    const present = Object.prototype.hasOwnProperty.call(req.session, key) && key !== 'cookie';
    res.json({ present, value: present ? req.session[key] : null });
  });

  app.post('/set', async (req, res) => {
    req.session[req.body.key] = JSON.parse(req.body.value);
    const delay = Number(req.body.delay_ms || 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    res.json({ ok: true }); // the commit happens as the response ends
  });

  app.post('/delete', (req, res) => {
    delete req.session[req.body.key];
    res.json({ ok: true });
  });

  // express-session's login idiom: regenerate, then set the user.
  app.post('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = req.body.user;
      return res.json({ user: req.body.user });
    });
  });

  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.json({ ok: true })));
  });

  app.post('/flash', (req, res) => {
    req.sessiond.flash(req.body.message);
    res.json({ ok: true });
  });

  app.get('/flashes', async (req, res) => {
    res.json({ messages: await req.sessiond.flashes() });
  });

  app.get('/csrf', async (req, res) => {
    res.json({ token: await req.sessiond.csrfToken(), header: 'X-CSRF-Token' });
  });

  app.post('/rotate_csrf', async (req, res) => {
    res.json({ token: await req.sessiond.rotateCsrf() });
  });

  app.get('/devices', async (req, res) => {
    const devices = await req.sessiond.devices();
    res.json({
      devices: devices.map((d) => ({
        current: d.current,
        ip: d.ip,
        user_agent: d.userAgent,
        created_at: d.createdAt,
        authenticated_at: d.authenticatedAt,
        last_seen_at: d.lastSeenAt,
      })),
    });
  });

  app.post('/signout_others', async (req, res) => {
    res.json({ ended: await req.sessiond.signOutOthers() });
  });

  app.post('/password_changed', async (req, res) => {
    await req.sessiond.passwordChanged();
    res.json({ ok: true });
  });

  app.post('/big', (req, res) => {
    req.session.big = 'x'.repeat(Number(req.body.bytes));
    res.json({ ok: true });
  });

  if (extraRoutes) extraRoutes(app);

  // Errors as JSON, with the status and headers sessiond/express chose
  // (503 + Retry-After, 409, 403, 401, 500).
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    const status = err.status || err.statusCode || 500;
    if (logErrors && status >= 500 && !(err instanceof errors.Unavailable)) console.error(err);
    res.status(status).set(err.headers || {}).json({ error: err.code || 'ERROR', message: err.message });
  });

  return app;
}

module.exports = { makeApp };
