// Compiled by `tsc --noEmit` (test.sh) and never run: uses the declared API
// the way an app would, so a declaration that drifts from the code's shape
// (or that does not compile) fails the test command.
import express from 'express';

import { Client, AdminClient, Revoked, Unavailable, InvalidCookie, errors } from '../lib/index';
import { SessiondStore, session, csrf, errorHandler } from '../lib/express';
import { TestDaemon } from '../lib/testing';

async function app(): Promise<void> {
  const client = new Client('ipc:///run/sessiond/app.sock', { timeout: 1500 });
  const admin = new AdminClient('ipc:///run/sessiond/admin.sock');
  const web = express();
  web.use(express.urlencoded({ extended: false }));
  web.use(session({ store: new SessiondStore({ client, adminClient: admin }), saveUninitialized: false }));
  web.use(csrf({ field: 'csrf_token' }));
  web.post('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = 'alice';
      return res.redirect('/');
    });
  });
  web.get('/devices', async (req, res) => {
    const devices = await req.sessiond.devices();
    const mine = devices.filter((d) => d.current).map((d) => d.userAgent + d.authenticatedAt);
    const token: string = await req.sessiond.csrfToken();
    const flashes: string[] = await req.sessiond.flashes();
    const ended: number | null = await req.sessiond.signOutOthers();
    res.json({ mine, token, flashes, ended, why: req.sessiond.revokedReason });
  });
  web.use(errorHandler());

  const created = await client.create({ ip: '203.0.113.9', userAgent: 'UA' });
  const saved = await client.commit(created.cookie, created.session.version,
    { set: { theme: '"dark"' }, erase: ['old'], flash: ['Saved.', { queue: 'info', message: 'hi' }] });
  const frames: Buffer[] = await client.call('PING', [], { timeout: 100 });
  const n: number = await admin.userRevoke(saved.session.userId);
  const hello = await client.cachedHello();
  const name: string = hello.cookie.name;
  try {
    await client.load(saved.cookie);
  } catch (e) {
    if (e instanceof Revoked) console.log(e.reason, e.at, e.details, e.code);
    else if (e instanceof InvalidCookie || e instanceof Unavailable) console.log(e.code);
    else if (e instanceof errors.Conflict) console.log('conflict');
  }
  const daemon = await TestDaemon.start({ session: { mode: 'hybrid' } });
  const text: string = await daemon.configText();
  console.log(frames.length, n, name, text, daemon.endpoint);
  await daemon.close();
}

void app;
