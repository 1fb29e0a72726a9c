// Test helpers: a real sessiond (the shared launcher), an app served over
// real HTTP on a loopback port, and Browser, a small HTTP client with a
// cookie jar (one Browser = one browser's cookies).
'use strict';

const http = require('node:http');

const { TestDaemon } = require('../lib/testing');
const { Client, AdminClient } = require('../lib');

/** Starts a daemon and clients on it; call close() when done. */
async function startDaemon(options = {}) {
  const daemon = await TestDaemon.start(options);
  const client = new Client(daemon.endpoint, { timeout: options.timeout || 2000 });
  const admin = new AdminClient(daemon.admin_endpoint);
  return {
    daemon,
    client,
    admin,
    async close() {
      client.close();
      admin.close();
      await daemon.close();
    },
  };
}

/** Serves an Express app on 127.0.0.1 (a free port) -> {url, close}. */
function serve(app) {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise((done) => {
          server.closeAllConnections();
          server.close(done);
        }),
      });
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One browser: remembers cookies from Set-Cookie and sends them back. */
class Browser {
  constructor(base, userAgent = 'TestBrowser/1.0') {
    this.base = base;
    this.userAgent = userAgent;
    this.cookies = new Map();
    this.csrfToken = '';
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** -> {status, headers, body (parsed JSON or text), setCookies} */
  request(method, path, form, headers = {}) {
    const body = form ? new URLSearchParams(form).toString() : undefined;
    const h = { 'user-agent': this.userAgent, accept: 'application/json', ...headers };
    if (this.cookies.size) h.cookie = this.cookieHeader();
    if (body !== undefined) {
      h['content-type'] = 'application/x-www-form-urlencoded';
      h['content-length'] = Buffer.byteLength(body);
    }
    return new Promise((resolve, reject) => {
      const req = http.request(`${this.base}${path}`, { method, headers: h, agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const setCookies = [].concat(res.headers['set-cookie'] || []);
          for (const line of setCookies) this._store(line);
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch (_) {
            // an HTML page: keep the text
          }
          resolve({ status: res.statusCode, headers: res.headers, body: parsed, setCookies });
        });
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  _store(line) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))
      || attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now());
    if (expired || value === '') this.cookies.delete(name);
    else this.cookies.set(name, value);
  }

  get(path, headers) {
    return this.request('GET', path, undefined, headers);
  }

  /** POST with the CSRF token this browser last fetched (see csrf()). */
  post(path, form = {}, headers = {}) {
    const h = this.csrfToken ? { 'x-csrf-token': this.csrfToken, ...headers } : headers;
    return this.request('POST', path, form, h);
  }

  /** GET /csrf (creates the session) and remembers the token. */
  async csrf() {
    const r = await this.get('/csrf');
    this.csrfToken = r.body.token;
    return this.csrfToken;
  }
}

/** Resolves when `parties` callers have arrived (for parallel requests). */
function barrier(parties) {
  let arrived = 0;
  let release;
  const all = new Promise((resolve) => { release = resolve; });
  return () => {
    arrived += 1;
    if (arrived >= parties) release();
    return all;
  };
}

module.exports = { startDaemon, serve, Browser, barrier, Client, AdminClient };
