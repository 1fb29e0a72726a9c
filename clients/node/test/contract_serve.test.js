// contract/serve, the executable the shared contract suite starts: serves
// the contract app on the port it is given, against $SESSIOND_ENDPOINT,
// and exits 0 on SIGTERM.
'use strict';

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { test } = require('node:test');

const { startDaemon, Browser } = require('./helpers');

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

test('serve express PORT answers the contract routes and stops on SIGTERM', async () => {
  const env = await startDaemon();
  const port = await freePort();
  const child = spawn(path.join(__dirname, '..', 'contract', 'serve'), ['express', String(port)], {
    env: { ...process.env, SESSIOND_ENDPOINT: env.daemon.endpoint,
      SESSIOND_ADMIN_ENDPOINT: env.daemon.admin_endpoint },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const b = new Browser(`http://127.0.0.1:${port}`);
    let health;
    for (let i = 0; i < 100 && !health; i += 1) {
      health = await b.get('/health').catch(() => null);
      if (!health) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(health.body, { ok: true });
    const csrf = await b.get('/csrf');
    assert.equal(csrf.body.header, 'X-CSRF-Token');
    b.csrfToken = csrf.body.token;
    assert.equal((await b.post('/login', { user: 'zed' })).body.user, 'zed');
    assert.deepEqual((await b.get('/whoami')).body, { user: 'zed' });
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    await env.close();
  }
});

test('serve refuses a framework it does not serve', async () => {
  const child = spawn(path.join(__dirname, '..', 'contract', 'serve'), ['rails', '1'], { stdio: 'ignore' });
  assert.equal(await new Promise((resolve) => child.on('exit', resolve)), 2);
});
