// The example over real HTTP against a real sessiond: wrong password, sign
// in from two browsers, both listed on "your devices" (this one first),
// sign out the other location, the other browser is sent to sign in again
// and told why; sign out.
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const { test, before, after } = require('node:test');

const { CLIENT } = require('./deps');
const { startDaemon, serve, Browser } = require(path.join(CLIENT, 'test', 'helpers'));
const { createApp, describeDevice } = require('./app');

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const token = (html) => (html.match(/name="_csrf" value="([^"]+)"/) || [])[1];

let env;
let web;
before(async () => {
  env = await startDaemon();
  web = await serve(createApp({ client: env.client, logger: quiet }));
});
after(async () => {
  await web.close();
  await env.close();
});

async function signIn(browser, user, password) {
  const form = await browser.get('/login', { accept: 'text/html' });
  assert.equal(form.status, 200);
  const r = await browser.request('POST', '/login', { _csrf: token(form.body), user, password });
  assert.equal(r.status, 302);
  return r.headers.location;
}

test('a wrong password is refused with a message shown once', async () => {
  const b = new Browser(web.url, 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0');
  assert.equal(await signIn(b, 'alice', 'nope'), '/login');
  const page = await b.get('/login', { accept: 'text/html' });
  assert.match(page.body, /Wrong user name or password/);
  assert.doesNotMatch((await b.get('/login')).body, /Wrong user name/);
  assert.equal((await b.get('/devices')).headers.location, '/login');
});

test('two browsers, your devices, sign out the other location, sign out', async () => {
  const laptop = new Browser(web.url, 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36');
  const phone = new Browser(web.url, 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1');
  assert.equal(await signIn(phone, 'bob', 'builder'), '/devices');
  assert.equal(await signIn(laptop, 'bob', 'builder'), '/devices');

  const devices = await laptop.get('/devices', { accept: 'text/html' });
  assert.match(devices.body, /Signed in as bob\./);
  const rows = devices.body.match(/<tr class="device[^"]*">[\s\S]*?<\/tr>/g);
  assert.equal(rows.length, 2);
  assert.match(rows[0], /class="device current"/);
  assert.match(rows[0], /Chrome on Linux/);
  assert.match(rows[0], /this device/);
  assert.match(rows[1], /Safari on iPhone/);

  const out = await laptop.request('POST', '/devices/sign-out-others', { _csrf: token(devices.body) });
  assert.equal(out.headers.location, '/devices');
  const after = await laptop.get('/devices', { accept: 'text/html' });
  assert.match(after.body, /Signed out 1 other location\./);
  assert.equal(after.body.match(/<tr class="device/g).length, 1);

  assert.equal((await phone.get('/devices')).headers.location, '/login');
  await laptop.request('POST', '/logout', { _csrf: token(after.body) });
  const login = await laptop.get('/login', { accept: 'text/html' });
  assert.match(login.body, /Signed out\./);
  assert.equal((await laptop.get('/devices')).headers.location, '/login');
});

test('a POST without the CSRF token is refused', async () => {
  const b = new Browser(web.url);
  await signIn(b, 'alice', 'wonderland');
  const r = await b.request('POST', '/devices/sign-out-others', {}, { accept: 'text/html' });
  assert.equal(r.status, 403);
});

test('device labels', () => {
  assert.equal(describeDevice('curl/8.0'), 'curl');
  assert.equal(describeDevice(''), 'Unknown browser');
});
