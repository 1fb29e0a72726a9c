// express-session on sessiond, over real HTTP against a real sessiond: the
// contract app's routes (contract/app.js) plus a few test-only routes.
// Covers the Store contract, the parallel-requests race (with a control
// store that writes the whole session and loses it), login/regenerate,
// logout/destroy, flash exactly once, CSRF, devices, sign out others,
// password changed, tampered cookies, sessiond down, and the size cap.
'use strict';

const assert = require('node:assert/strict');
const { test, describe, before, after } = require('node:test');

const express = require('express');

const errors = require('../lib/errors');
const { SessiondStore, session, errorHandler } = require('../lib/express');
const { makeApp } = require('../contract/app');
const { startDaemon, serve, Browser, barrier, Client } = require('./helpers');

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A store that sends every key at each commit, as a whole-session set()
 * would (connect-redis, MemoryStore): the control that shows the parallel
 * test can fail. */
class WholeSessionStore extends SessiondStore {
  newState(options) {
    const state = super.newState(options);
    state.changes = function everyKey(sess) {
      const set = {};
      for (const [key, value] of this.current(sess)) set[key] = JSON.stringify(value);
      return { set, erase: [] };
    };
    return state;
  }
}

// Test-only routes: a barrier so two requests have both loaded before
// either commits (no timing involved), and an explicit save / reload.
const barriers = new Map();
function testRoutes(app) {
  app.post('/set_together', async (req, res) => {
    req.session[req.body.key] = JSON.parse(req.body.value);
    const name = req.body.barrier;
    if (!barriers.has(name)) barriers.set(name, barrier(2));
    await barriers.get(name)();
    res.json({ ok: true });
  });
  app.post('/save_then_fail', (req, res, next) => {
    req.session.saved = 'yes';
    req.session.save((err) => {
      if (err) return next(err);
      req.session.unsaved = 'no';
      return res.status(500).json({ error: 'failed after save' });
    });
  });
  app.post('/fail', (req, res) => {
    req.session.failed = true;
    res.status(400).json({ error: 'bad request' });
  });
  app.post('/reload', (req, res, next) => {
    req.session.local = 'changed';
    req.session.reload((err) => {
      if (err) return next(err);
      return res.json({ local: req.session.local === undefined ? null : req.session.local });
    });
  });
  app.post('/helper_login', async (req, res) => {
    await req.sessiond.login(req.body.user);
    res.json({ user: req.sessiond.userId, sid: req.sessionID });
  });
  app.post('/helper_logout', async (req, res) => {
    await req.sessiond.logout();
    req.session.after = 'logout';
    res.json({ ok: true });
  });
  app.post('/drop_user', (req, res) => {
    delete req.session.userId;
    res.json({ ok: true });
  });
  app.post('/push', (req, res) => {
    req.session.list.push(req.body.item); // in-place: no assignment
    res.json({ ok: true });
  });
  app.post('/unset', (req, res) => {
    req.session = null;
    res.json({ ok: true });
  });
  app.post('/bad_key', (req, res) => {
    req.session['has space'] = 1;
    res.json({ ok: true });
  });
  app.get('/why', (req, res) => {
    res.json({ reason: req.sessiond.revokedReason, error: req.sessiond.cookieError
      ? req.sessiond.cookieError.code : null });
  });
  app.get('/info', (req, res) => {
    const info = req.sessiond.info;
    res.json({ authenticatedAt: info ? info.authenticatedAt : null, sid: req.sessionID });
  });
}

/** Calls a callback-style Store method -> Promise. */
function callOn(store, fn, ...args) {
  return new Promise((resolve, reject) => {
    fn.call(store, ...args, (err, value) => (err ? reject(err) : resolve(value)));
  });
}

async function startApp(env, options = {}) {
  const store = options.store || new SessiondStore({
    client: env.client, adminClient: env.admin, logger: quiet,
  });
  const app = makeApp({
    client: env.client, store, extraRoutes: testRoutes, logErrors: false,
    sessionOptions: { logger: quiet, ...(options.sessionOptions || {}) },
  });
  return serve(app);
}

describe('express-session on sessiond (server mode)', () => {
  let env;
  let web;
  before(async () => {
    env = await startDaemon();
    web = await startApp(env);
  });
  after(async () => {
    await web.close();
    await env.close();
  });

  test('a request that touches nothing sets no cookie and creates nothing', async () => {
    const before = (await env.admin.stats()).sessions;
    const b = new Browser(web.url);
    const r = await b.get('/whoami');
    assert.deepEqual(r.body, { user: '' });
    assert.equal(r.setCookies.length, 0);
    assert.equal((await env.admin.stats()).sessions, before);
  });

  test('values round-trip with their JSON types; the cookie is sessiond\'s own', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    const value = { n: 1.5, s: 'héllo', list: [1, 'two', null], nested: { t: true } };
    for (const [key, v] of [['obj', value], ['num', 42], ['str', 'x'], ['bool', false], ['nil', null]]) {
      assert.equal((await b.post('/set', { key, value: JSON.stringify(v) })).status, 200);
      assert.deepEqual((await b.get(`/get?key=${key}`)).body, { present: true, value: v });
    }
    assert.deepEqual((await b.get('/get?key=missing')).body, { present: false, value: null });
    const raw = b.cookies.get('sessiond');
    assert.doesNotMatch(raw, /^s%3A|^s:/, 'no express-session signature around it');
    const loaded = await env.client.load(raw);
    assert.equal(loaded.session.data.num, '42');
    assert.deepEqual(JSON.parse(loaded.session.data.obj), value);
    await b.post('/delete', { key: 'num' });
    assert.deepEqual((await b.get('/get?key=num')).body, { present: false, value: null });
  });

  test('two parallel requests changing different keys both land', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    await b.post('/set', { key: 'a', value: '0' });
    await b.post('/set', { key: 'b', value: '0' });
    const [ra, rb] = await Promise.all([
      b.post('/set_together', { key: 'a', value: '1', barrier: 'different-keys' }),
      b.post('/set_together', { key: 'b', value: '2', barrier: 'different-keys' }),
    ]);
    assert.equal(ra.status, 200);
    assert.equal(rb.status, 200);
    assert.deepEqual((await b.get('/get?key=a')).body.value, 1);
    assert.deepEqual((await b.get('/get?key=b')).body.value, 2);
  });

  test('control: a whole-session set loses that race (so the test above can fail)', async () => {
    const store = new WholeSessionStore({ client: env.client, logger: quiet });
    const whole = await startApp(env, { store });
    try {
      const b = new Browser(whole.url);
      await b.csrf();
      await b.post('/set', { key: 'a', value: '0' });
      await b.post('/set', { key: 'b', value: '0' });
      const [ra, rb] = await Promise.all([
        b.post('/set_together', { key: 'a', value: '1', barrier: 'whole' }),
        b.post('/set_together', { key: 'b', value: '2', barrier: 'whole' }),
      ]);
      const a = (await b.get('/get?key=a')).body.value;
      const bv = (await b.get('/get?key=b')).body.value;
      const bothLanded = ra.status === 200 && rb.status === 200 && a === 1 && bv === 2;
      assert.equal(bothLanded, false);
      assert.ok([ra.status, rb.status].includes(409), 'sessiond reports the clash as a conflict');
    } finally {
      await whole.close();
    }
  });

  test('two parallel requests changing the same key: one lands, the other gets 409', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    const results = await Promise.all([
      b.post('/set_together', { key: 'k', value: '"first"', barrier: 'same-key' }),
      b.post('/set_together', { key: 'k', value: '"second"', barrier: 'same-key' }),
    ]);
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 409]);
    const conflict = results.find((r) => r.status === 409);
    assert.equal(conflict.headers['cache-control'], 'no-store');
    const winner = results.indexOf(results.find((r) => r.status === 200)) === 0 ? 'first' : 'second';
    assert.equal((await b.get('/get?key=k')).body.value, winner);
  });

  test('login (regenerate, then userId) changes the cookie, rotates CSRF, keeps data', async () => {
    const b = new Browser(web.url);
    const before = await b.csrf();
    await b.post('/set', { key: 'cart', value: '[1,2]' });
    const oldCookie = b.cookies.get('sessiond');
    const r = await b.post('/login', { user: 'alice' });
    assert.deepEqual(r.body, { user: 'alice' });
    assert.equal(r.setCookies.length, 1);
    assert.notEqual(b.cookies.get('sessiond'), oldCookie);
    assert.deepEqual((await b.get('/whoami')).body, { user: 'alice' });
    assert.deepEqual((await b.get('/get?key=cart')).body.value, [1, 2]);
    assert.ok((await b.get('/info')).body.authenticatedAt > 0);
    // The old cookie carries no user any more, and the old CSRF token is dead.
    const old = new Browser(web.url);
    old.cookies.set('sessiond', oldCookie);
    assert.deepEqual((await old.get('/whoami')).body, { user: '' });
    assert.equal((await b.post('/set', { key: 'x', value: '1' })).status, 403);
    assert.notEqual(await b.csrf(), before);
    assert.equal((await b.post('/set', { key: 'x', value: '1' })).status, 200);
  });

  test('the login helper logs in at once; the user key reads sessiond\'s user', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    const r = await b.post('/helper_login', { user: 'bob' });
    assert.equal(r.body.user, 'bob');
    assert.equal(r.body.sid, b.cookies.get('sessiond'), 'req.sessionID is the new cookie');
    assert.deepEqual((await b.get('/whoami')).body, { user: 'bob' });
  });

  test('logout (destroy) deletes the cookie; the old cookie is dead and says why', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    await b.post('/login', { user: 'dave' });
    await b.csrf();
    const cookie = b.cookies.get('sessiond');
    const r = await b.post('/logout');
    assert.equal(r.status, 200);
    assert.match(r.setCookies[0], /^sessiond=;|Max-Age=0|Expires=Thu, 01 Jan 1970/i);
    assert.equal(b.cookies.has('sessiond'), false);
    const old = new Browser(web.url);
    old.cookies.set('sessiond', cookie);
    assert.deepEqual((await old.get('/whoami')).body, { user: '' });
    const why = (await old.get('/why')).body;
    assert.equal(why.error, 'REVOKED');
    assert.ok(['', 'logout'].includes(why.reason), why.reason);
  });

  test('deleting the user key logs out and carries the rest into a fresh session', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    await b.post('/login', { user: 'erin' });
    await b.csrf();
    await b.post('/set', { key: 'theme', value: '"dark"' });
    const loggedIn = b.cookies.get('sessiond');
    assert.equal((await b.post('/drop_user')).status, 200);
    assert.notEqual(b.cookies.get('sessiond'), loggedIn);
    assert.deepEqual((await b.get('/whoami')).body, { user: '' });
    assert.equal((await b.get('/get?key=theme')).body.value, 'dark');
    await assert.rejects(env.client.load(loggedIn), errors.Revoked);
  });

  test('the logout helper: the rest of the request writes to a new anonymous session', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    await b.post('/login', { user: 'fay' });
    await b.csrf();
    await b.post('/helper_logout');
    assert.deepEqual((await b.get('/whoami')).body, { user: '' });
    assert.equal((await b.get('/get?key=after')).body.value, 'logout');
  });

  test('flash messages are shown exactly once, even to two racing requests', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    await b.post('/flash', { message: 'one' });
    await b.post('/flash', { message: 'two' });
    const [x, y] = await Promise.all([b.get('/flashes'), b.get('/flashes')]);
    const shown = [...x.body.messages, ...y.body.messages];
    assert.deepEqual(shown.sort(), ['one', 'two']);
    assert.ok(x.body.messages.length === 0 || y.body.messages.length === 0,
      'one request got them all (one FLASH pop), the other none');
    assert.deepEqual((await b.get('/flashes')).body.messages, []);
  });

  test('CSRF: POST without the token is 403; the token rotates on request', async () => {
    const b = new Browser(web.url);
    const token = await b.csrf();
    assert.equal((await b.get('/csrf')).body.token, token, 'stable until rotated');
    assert.equal((await b.request('POST', '/set', { key: 'a', value: '1' })).status, 403);
    assert.equal((await b.post('/set', { key: 'a', value: '1' }, { 'x-csrf-token': 'wrong' })).status, 403);
    assert.equal((await b.post('/set', { key: 'a', value: '1', _csrf: token }, { 'x-csrf-token': '' })).status, 200);
    const rotated = (await b.post('/rotate_csrf')).body.token;
    assert.notEqual(rotated, token);
    assert.equal((await b.post('/set', { key: 'a', value: '2' })).status, 403);
    b.csrfToken = rotated;
    assert.equal((await b.post('/set', { key: 'a', value: '2' })).status, 200);
  });

  test('devices: two browsers, the current first; sign out others ends the other', async () => {
    const phone = new Browser(web.url, 'Phone/1');
    const laptop = new Browser(web.url, 'Laptop/1');
    for (const b of [phone, laptop]) {
      await b.csrf();
      await b.post('/login', { user: 'gina' });
      await b.csrf();
    }
    const devices = (await laptop.get('/devices')).body.devices;
    assert.equal(devices.length, 2);
    assert.equal(devices[0].current, true);
    assert.equal(devices[0].user_agent, 'Laptop/1');
    assert.equal(devices[1].user_agent, 'Phone/1');
    assert.ok(devices.every((d) => d.authenticated_at > 0 && d.ip === '127.0.0.1'));
    const r = await laptop.post('/signout_others');
    assert.deepEqual(r.body, { ended: 1 });
    assert.deepEqual((await phone.get('/whoami')).body, { user: '' });
    assert.ok(['', 'signed_out_elsewhere'].includes((await phone.get('/why')).body.reason));
    assert.deepEqual((await laptop.get('/whoami')).body, { user: 'gina' });
    assert.equal((await laptop.get('/devices')).body.devices.length, 1);
  });

  test('password changed ends the other browser and keeps this one', async () => {
    const a = new Browser(web.url, 'A');
    const b = new Browser(web.url, 'B');
    for (const x of [a, b]) {
      await x.csrf();
      await x.post('/login', { user: 'hank' });
      await x.csrf();
    }
    const before = a.cookies.get('sessiond');
    assert.equal((await a.post('/password_changed')).status, 200);
    assert.notEqual(a.cookies.get('sessiond'), before, 'this session is re-issued');
    assert.deepEqual((await a.get('/whoami')).body, { user: 'hank' });
    assert.deepEqual((await b.get('/whoami')).body, { user: '' });
  });

  test('helpers that need a user answer 401 on an anonymous session', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    assert.equal((await b.post('/signout_others')).status, 401);
    assert.equal((await b.post('/password_changed')).status, 401);
  });

  test('a tampered cookie gives a fresh anonymous session, never an error page', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    await b.post('/login', { user: 'ivy' });
    const c = b.cookies.get('sessiond');
    const flipped = c.slice(0, -2) + (c.slice(-2, -1) === 'A' ? 'B' : 'A') + c.slice(-1);
    b.cookies.set('sessiond', flipped);
    const r = await b.get('/whoami');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { user: '' });
    assert.equal((await b.get('/why')).body.error, 'BAD_MAC');
    b.cookies.set('sessiond', 'garbage!!');
    assert.deepEqual((await b.get('/whoami')).body, { user: '' });
  });

  test('over-cap data: an error status and nothing stored', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    const hello = await env.client.hello();
    const r = await b.post('/big', { bytes: String(hello.maxDataBytes + 100) });
    assert.equal(r.status, 500);
    assert.equal(r.body.error, 'TOO_LARGE');
    assert.deepEqual((await b.get('/get?key=big')).body, { present: false, value: null });
  });

  test('a response with status >= 400 commits nothing; an explicit save() before it stays', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    assert.equal((await b.post('/fail')).status, 400);
    assert.equal((await b.get('/get?key=failed')).body.present, false);
    assert.equal((await b.post('/save_then_fail')).status, 500);
    assert.equal((await b.get('/get?key=saved')).body.value, 'yes');
    assert.equal((await b.get('/get?key=unsaved')).body.present, false);
  });

  test('in-place mutation is committed; a key sessiond cannot store is a 500', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    await b.post('/set', { key: 'list', value: '[1]' });
    await b.post('/push', { item: 'two' });
    assert.deepEqual((await b.get('/get?key=list')).body.value, [1, 'two']);
    const r = await b.post('/bad_key');
    assert.equal(r.status, 500);
    assert.equal(r.body.error, 'INVALID_ARGUMENT');
  });

  test('reload() drops the request\'s changes and reads sessiond again', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    await b.post('/set', { key: 'local', value: '"stored"' });
    assert.deepEqual((await b.post('/reload')).body, { local: 'stored' });
  });

  test('the Store contract, called directly: get, set, touch, destroy, length', async () => {
    const store = new SessiondStore({ client: env.client, adminClient: env.admin });
    const call = (fn, ...args) => callOn(store, fn, ...args);
    const s = await env.client.login('', 'jack');
    await env.client.commit(s.cookie, s.session.version, { set: { a: '1', b: '"x"' } });
    const sess = await call(store.get, s.cookie);
    assert.equal(sess.userId, 'jack');
    assert.equal(sess.a, 1);
    assert.equal(sess.b, 'x');
    assert.ok(sess.cookie);
    // set() sends only what changed since get(): a parallel write of b stays.
    const current = await env.client.load(s.cookie);
    await env.client.commit(s.cookie, current.session.version, { set: { b: '"parallel"' } });
    sess.a = 2;
    await call(store.set, s.cookie, sess);
    const after = await env.client.load(s.cookie);
    assert.deepEqual(after.session.data, { a: '2', b: '"parallel"' });
    await call(store.touch, s.cookie, sess);
    assert.ok((await call(store.length)) >= 1);
    assert.equal(await call(store.get, 'no-such-cookie'), null);
    await call(store.destroy, s.cookie);
    assert.equal(await call(store.get, s.cookie), null);
    assert.equal(typeof store.all, 'undefined');
    assert.equal(typeof store.clear, 'undefined');
    const noAdmin = new SessiondStore({ client: env.client });
    await assert.rejects(callOn(noAdmin, noAdmin.length), TypeError);
  });
});

describe('unset: destroy', () => {
  let env;
  let web;
  before(async () => {
    env = await startDaemon();
    web = await startApp(env, { sessionOptions: { unset: 'destroy' } });
  });
  after(async () => {
    await web.close();
    await env.close();
  });

  test('req.session = null ends the session on sessiond', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    await b.post('/set', { key: 'a', value: '1' });
    const cookie = b.cookies.get('sessiond');
    const r = await b.post('/unset');
    assert.equal(r.status, 200);
    assert.equal(b.cookies.has('sessiond'), false);
    await assert.rejects(env.client.load(cookie), errors.Revoked);
  });
});

describe('a Secure cookie over plain http', () => {
  test('logs one loud warning', async () => {
    const env = await startDaemon({ cookie: { secure: true } });
    const warnings = [];
    const logger = { ...quiet, warn: (m) => warnings.push(m) };
    const store = new SessiondStore({ client: env.client, logger });
    const web = await serve(makeApp({ client: env.client, store, sessionOptions: { logger } }));
    try {
      const b = new Browser(web.url);
      await b.get('/csrf');
      await new Browser(web.url).get('/csrf');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /Secure session cookie was sent over plain http/);
    } finally {
      await web.close();
      await env.close();
    }
  });
});

describe('sessiond down', () => {
  let env;
  let web;
  before(async () => {
    env = await startDaemon({ timeout: 500 });
    web = await startApp(env);
  });
  after(async () => {
    await web.close();
    await env.close();
  });

  test('503 with Retry-After, fast after the first; success again after restart', async () => {
    const b = new Browser(web.url);
    await b.csrf();
    await b.post('/set', { key: 'kept', value: '"yes"' });
    await env.daemon.stop();
    try {
      const first = await b.get('/whoami');
      assert.equal(first.status, 503);
      assert.equal(first.headers['retry-after'], '5');
      assert.equal(first.headers['cache-control'], 'no-store');
      assert.equal(first.body.error, 'TIMEOUT');
      const next = await Promise.all(Array.from({ length: 10 }, () => b.get('/whoami')));
      assert.ok(next.every((r) => r.status === 503 && r.headers['retry-after'] === '5'));
      assert.ok(next.some((r) => r.body.error === 'CIRCUIT_OPEN'), 'failing fast, without waiting');
      assert.equal((await b.get('/health')).status, 200, 'routes before the session still work');
    } finally {
      await env.daemon.start();
    }
    let r;
    for (let i = 0; i < 300; i += 1) {
      r = await b.get('/get?key=kept');
      if (r.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(r.status, 200);
    assert.equal(r.body.value, 'yes', 'the session survived the restart');
  });
});

// rotate_after 2 s, the old value good for 1 s more: short, so the test
// can outwait both.
describe('cookie rotation on sessiond', () => {
  let env;
  let web;
  before(async () => {
    env = await startDaemon({ session: { rotate_after: 2, rotation_grace: 1 } });
    web = await startApp(env);
  });
  after(async () => {
    await web.close();
    await env.close();
  });
  const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  test('a rotated cookie is passed on; a stolen copy that comes back ends the session', async () => {
    const owner = new Browser(web.url);
    await owner.csrf();
    await owner.post('/login', { user: 'rosa' });
    await owner.csrf();
    assert.equal((await owner.post('/set', { key: 'k', value: '1' })).status, 200);
    const before = owner.cookies.get('sessiond');
    const thief = new Browser(web.url);
    thief.cookies.set('sessiond', before);
    await sleep(2200); // older than rotate_after: the next load rotates it
    assert.deepEqual((await owner.get('/whoami')).body, { user: 'rosa' });
    assert.notEqual(owner.cookies.get('sessiond'), before, 'the new value reached the browser');
    assert.equal((await owner.get('/get?key=k')).body.value, 1);
    await sleep(1200); // the old value's grace is over
    assert.deepEqual((await thief.get('/whoami')).body, { user: '' });
    assert.equal((await thief.get('/why')).body.reason, 'reuse_detected');
    assert.deepEqual((await owner.get('/whoami')).body, { user: '' });
  });
});

describe('cookie settings come from HELLO', () => {
  let env;
  before(async () => { env = await startDaemon({ cookie: { name: 'myapp' } }); });
  after(async () => { await env.close(); });

  test('the cookie is read and set under the name sessiond announces', async () => {
    const web = await startApp(env);
    try {
      const b = new Browser(web.url);
      await b.csrf();
      assert.ok(b.cookies.has('myapp'));
      await b.post('/set', { key: 'a', value: '1' });
      assert.equal((await b.get('/get?key=a')).body.value, 1);
    } finally {
      await web.close();
    }
  });

  test('an app option naming another cookie is a loud error naming both', async () => {
    const web = await startApp(env, { sessionOptions: { name: 'connect.sid' } });
    try {
      const r = await new Browser(web.url).get('/whoami');
      assert.equal(r.status, 500);
      assert.match(r.body.message, /"connect\.sid".*"myapp"/);
    } finally {
      await web.close();
    }
  });

  test('a contradicting cookie attribute is a loud error', async () => {
    const web = await startApp(env, { sessionOptions: { cookie: { secure: true } } });
    try {
      const r = await new Browser(web.url).get('/whoami');
      assert.equal(r.status, 500);
      assert.match(r.body.message, /cookie\.secure = true but sessiond .* says false/);
    } finally {
      await web.close();
    }
  });

  test('matching options are accepted', async () => {
    const web = await startApp(env, {
      sessionOptions: { name: 'myapp', cookie: { path: '/', httpOnly: true, secure: false } },
    });
    try {
      assert.equal((await new Browser(web.url).get('/whoami')).status, 200);
    } finally {
      await web.close();
    }
  });
});

for (const mode of ['hybrid', 'client']) {
  describe(`${mode} mode: the cookie changes with the data`, () => {
    let env;
    let web;
    before(async () => {
      env = await startDaemon({ session: { mode } });
      web = await startApp(env);
    });
    after(async () => {
      await web.close();
      await env.close();
    });

    test('changes, login, flash and logout follow the newest cookie', async () => {
      const b = new Browser(web.url);
      await b.csrf();
      const first = b.cookies.get('sessiond');
      await b.post('/set', { key: 'a', value: '{"x":1}' });
      assert.notEqual(b.cookies.get('sessiond'), first, 'a new cookie after a change');
      assert.deepEqual((await b.get('/get?key=a')).body.value, { x: 1 });
      await b.post('/login', { user: 'kim' });
      await b.csrf();
      assert.deepEqual((await b.get('/whoami')).body, { user: 'kim' });
      assert.deepEqual((await b.get('/get?key=a')).body.value, { x: 1 });
      await b.post('/flash', { message: 'hi' });
      assert.deepEqual((await b.get('/flashes')).body.messages, ['hi']);
      assert.deepEqual((await b.get('/flashes')).body.messages, []);
      await b.post('/logout');
      assert.deepEqual((await b.get('/whoami')).body, { user: '' });
    });
  });
}

describe('errorHandler()', () => {
  test('maps sessiond errors to pages and leaves other errors alone', async () => {
    const app = express();
    app.get('/down', (req, res, next) => next(new errors.CircuitOpen('down')));
    app.get('/conflict', (req, res, next) => next(new errors.Conflict('c')));
    app.get('/other', (req, res, next) => next(new Error('not ours')));
    app.use(errorHandler());
    // eslint-disable-next-line no-unused-vars
    app.use((err, req, res, next) => res.status(418).send('other'));
    const web = await serve(app);
    try {
      const b = new Browser(web.url);
      const down = await b.get('/down', { accept: 'text/html' });
      assert.equal(down.status, 503);
      assert.equal(down.headers['retry-after'], '5');
      assert.match(down.body, /<h1>503<\/h1>/);
      const conflict = await b.get('/conflict');
      assert.equal(conflict.status, 409);
      assert.equal(conflict.body.error, 'CONFLICT');
      assert.equal((await b.get('/other')).status, 418);
    } finally {
      await web.close();
    }
  });

  test('session() refuses a store that is not a SessiondStore', () => {
    assert.throws(() => session({}), TypeError);
    assert.throws(() => new SessiondStore({}), TypeError);
    assert.ok(new Client('ipc:///nowhere'));
  });
});
