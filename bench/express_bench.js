#!/usr/bin/env node
// The comparison Express users make: one small app whose request reads the
// session (user id, CSRF token) and sends a few bytes, driven over loopback
// HTTP by autocannon in this process, with
//   (a) express-session's MemoryStore (context only: one process, no store),
//   (b) connect-redis on a real redis-server (--redis-port),
//   (c) sessiond through clients/node's session() (--sessiond ENDPOINT),
//   (d) the same sessiond app while sessiond is unreachable: the rate of its
//       503 pages (the circuit breaker fails fast, issue 13),
// and, when a sessiond binary is at hand (SESSIOND_BIN or a build), how long
// after a stopped sessiond answers again the app serves 200s (recovery_ms).
// Prints one JSON object. Pattern of bench/flask_bench.py; packages come
// from clients/node (npm ci there).
//   node bench/express_bench.js --redis-port P --sessiond ENDPOINT --seconds S
'use strict';

const path = require('node:path');
const { createRequire } = require('node:module');
const { parseArgs } = require('node:util');

const CLIENT = path.resolve(__dirname, '..', 'clients', 'node');
const need = createRequire(path.join(CLIENT, 'package.json'));
const autocannon = need('autocannon');
const express = need('express');
const expressSession = need('express-session');
const { Client } = require(path.join(CLIENT, 'lib'));
const sessiondExpress = require(path.join(CLIENT, 'lib', 'express'));

const SECRET = 'bench-only-secret-0123456789abcdef';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The app: /login writes the session once, / reads it. */
function makeApp(sessionMiddleware) {
  const app = express();
  app.set('etag', false);
  app.use(sessionMiddleware);
  app.get('/login', (req, res) => {
    req.session.userId = '12345';
    req.session.csrf = 'Jb3kC0tq2n8Qm4XvX1yZ0aBcDeFgHiJkLmNoPqRsTuV';
    res.send('ok');
  });
  app.get('/', (req, res) => {
    res.send(`hello ${req.session.userId} ${String(req.session.csrf || '').slice(0, 4)}`);
  });
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    if (res.headersSent) return; // a store's late save error: nothing left to answer
    res.status(err.status || 500).set(err.headers || {}).send('error');
  });
  return app;
}

function listen(app) {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function get(url, cookie) {
  const r = await fetch(url, { headers: cookie ? { cookie } : {} });
  const body = await r.text();
  const setCookie = r.headers.get('set-cookie');
  return { status: r.status, body, cookie: setCookie ? setCookie.split(';')[0] : cookie };
}

/** Requests/s of GET / with the session cookie, after a warm-up. */
async function measure(url, cookie, seconds, expectStatus = 200) {
  for (let i = 0; i < 200; i += 1) await get(url, cookie);
  const result = await autocannon({
    url, connections: 16, pipelining: 1, duration: seconds,
    headers: cookie ? { cookie } : {},
    expectBody: undefined,
  });
  const other = result.non2xx;
  if (expectStatus === 200 && (other || result.errors)) {
    throw new Error(`${url}: ${other} non-2xx and ${result.errors} errors`);
  }
  if (expectStatus !== 200 && result['2xx']) {
    throw new Error(`${url}: expected ${expectStatus} pages, got ${result['2xx']} 2xx`);
  }
  return result.requests.average;
}

/** Serves app, logs in once, measures, closes. */
async function run(app, seconds, { checkBody = true } = {}) {
  const server = await listen(app);
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const login = await get(`${base}/login`);
    if (login.status !== 200) throw new Error(`login answered ${login.status}`);
    const first = await get(`${base}/`, login.cookie);
    if (checkBody && !first.body.includes('12345')) throw new Error(`not logged in: ${first.body}`);
    return await measure(`${base}/`, login.cookie, seconds);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function sessiondApp(client) {
  const store = new sessiondExpress.SessiondStore({ client, logger: quiet });
  return makeApp(sessiondExpress.session({ store, logger: quiet }));
}

/** 503 pages/s of the sessiond app while nothing answers at its endpoint. */
async function measureDown(seconds) {
  const client = new Client('tcp://127.0.0.1:9', { timeout: 2000 }); // discard port: nothing listens
  const server = await listen(sessiondApp(client));
  const url = `http://127.0.0.1:${server.address().port}/`;
  try {
    const cookie = 'sessiond=AQEAAAAB';
    const first = await get(url, cookie);
    if (first.status !== 503) throw new Error(`down: answered ${first.status}`);
    return await measure(url, cookie, seconds, 503);
  } finally {
    client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Milliseconds from a stopped sessiond answering PING again to the app's
 * first 200 (null when no sessiond binary is at hand). */
async function measureRecovery() {
  let TestDaemon;
  let daemon;
  try {
    ({ TestDaemon } = require(path.join(CLIENT, 'lib', 'testing')));
    daemon = await TestDaemon.start({ ipc: false });
  } catch (_) {
    return null;
  }
  const client = new Client(daemon.endpoint, { timeout: 2000 });
  const server = await listen(sessiondApp(client));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const { cookie } = await get(`${base}/login`);
    await daemon.stop();
    for (let i = 0; i < 20; i += 1) await get(`${base}/`, cookie); // opens the breaker
    await daemon.start();
    const t0 = performance.now();
    for (;;) {
      if ((await get(`${base}/`, cookie)).status === 200) return performance.now() - t0;
      if (performance.now() - t0 > 10000) throw new Error('no recovery within 10 s');
    }
  } finally {
    client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await daemon.close();
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      'redis-port': { type: 'string' },
      sessiond: { type: 'string' },
      seconds: { type: 'string', default: '3' },
    },
  });
  if (!values['redis-port'] || !values.sessiond) {
    console.error('usage: express_bench.js --redis-port P --sessiond ENDPOINT [--seconds S]');
    process.exit(2);
  }
  const seconds = Number(values.seconds);
  const out = {};

  out.memory_store = await run(makeApp(expressSession({
    secret: SECRET, resave: false, saveUninitialized: false,
  })), seconds);

  const { RedisStore } = need('connect-redis');
  const { createClient } = need('redis');
  const redis = createClient({ socket: { host: '127.0.0.1', port: Number(values['redis-port']) } });
  await redis.connect();
  try {
    out.connect_redis = await run(makeApp(expressSession({
      store: new RedisStore({ client: redis }), secret: SECRET, resave: false,
      saveUninitialized: false,
    })), seconds);
  } finally {
    await redis.quit();
  }

  const client = new Client(values.sessiond, { timeout: 5000 });
  try {
    out.sessiond = await run(sessiondApp(client), seconds);
  } finally {
    client.close();
  }

  out.sessiond_down = await measureDown(seconds);
  const recovery = await measureRecovery();
  if (recovery !== null) out.recovery_ms = recovery;
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err.stack || err);
  process.exit(1);
});
