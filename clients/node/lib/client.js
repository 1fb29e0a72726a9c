// Client and AdminClient: the SD1 verbs over one pipelined ZeroMQ DEALER.
//
// Every call returns a Promise. Calls made at once share the one DEALER and
// are all in flight together (pipelined); replies are matched by request id,
// in whatever order they come back. Each call has a timeout (default 2 s):
// when it passes, the socket is closed (linger 0, so requests still queued
// in it are dropped instead of reaching sessiond late) and the next call
// builds a new one, so a late reply can never answer a later request. Calls
// still in flight on the closed socket fail with Timeout too.
//
// A CircuitBreaker (breaker.js) makes calls fail at once with CircuitOpen
// while sessiond is down, and lets one probe through at growing intervals.
'use strict';

const zmq = require('zeromq');

const errors = require('./errors');
const protocol = require('./protocol');
const { CircuitBreaker } = require('./breaker');

// sessiond's own default app socket (a socket file in its data directory,
// relative to the directory both were started in). In production name it:
// ipc:///run/sessiond/app.sock (the systemd unit), or tcp://HOST:PORT with
// the CURVE keys (sessiond serves tcp with CURVE only).
const DEFAULT_ENDPOINT = 'ipc://sessiond-data/app.sock';
const DEFAULT_TIMEOUT_MS = 2000;

/** One DEALER socket and the calls in flight on it. Closed for good on the
 * first timeout or transport error; the Client then builds another. */
class Connection {
  constructor(endpoint, curve, idleCloseMs) {
    const options = { linger: 0, reconnectInterval: 100, reconnectMaxInterval: 1000 };
    // libzmq parses an IPv6 address (tcp://[::1]:5555) only with IPV6 set.
    if (endpoint.startsWith('tcp://[')) options.ipv6 = true;
    if (curve) {
      options.curveServerKey = curve.serverKey;
      options.curvePublicKey = curve.publicKey;
      options.curveSecretKey = curve.secretKey;
    }
    this.socket = new zmq.Dealer(options);
    this.socket.connect(endpoint);
    this.pending = new Map(); // request id -> {resolve, reject, timer}
    this.queue = []; // frames not yet handed to ZeroMQ
    this.sending = false;
    this.scheduled = false;
    this.closed = false;
    // An open ZeroMQ socket keeps Node's event loop alive (zeromq.js has no
    // unref). So a socket with nothing in flight for idleCloseMs closes
    // itself, and a script that is done exits; the next call reconnects.
    this.idleCloseMs = idleCloseMs;
    this.lastUsed = performance.now();
    this.idleTimer = null;
    this._armIdle(idleCloseMs);
    this._receiveLoop();
  }

  _armIdle(ms) {
    if (!(this.idleCloseMs > 0)) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.closed) return;
      const idleFor = performance.now() - this.lastUsed;
      if (this.pending.size === 0 && idleFor >= this.idleCloseMs) {
        this.close(new errors.Unavailable('closed after being idle'));
      } else {
        this._armIdle(Math.max(10, this.idleCloseMs - idleFor));
      }
    }, ms);
    this.idleTimer.unref();
  }

  /** Sends frames and resolves with the reply frames; onTimeout is called
   * (and the call rejected by it) when none comes within timeoutMs. */
  request(requestId, frames, timeoutMs, onTimeout) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => onTimeout(this, requestId), timeoutMs);
      this.lastUsed = performance.now();
      this.pending.set(requestId, { resolve, reject, timer });
      this.queue.push(frames);
      // Sent together once this event-loop turn is done: requests made in
      // one turn (several HTTP requests parsed at once) reach ZeroMQ in one
      // burst, and libzmq wakes its I/O thread once for the burst, not once
      // a message (that wake-up is most of a send's cost).
      if (!this.sending && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          if (!this.sending) this._pump();
        });
      }
    });
  }

  // One send at a time: zeromq.js refuses a second send while the first
  // waits (high-water mark); normally each resolves at once.
  async _pump() {
    this.sending = true;
    try {
      while (this.queue.length && !this.closed) {
        await this.socket.send(this.queue.shift());
      }
    } catch (e) {
      if (!this.closed) this.close(new errors.Unavailable(`ZeroMQ send: ${e.message}`));
    } finally {
      this.sending = false;
    }
  }

  async _receiveLoop() {
    try {
      while (!this.closed) {
        const frames = await this.socket.receive();
        const call = this.pending.get(protocol.replyId(frames));
        if (!call) continue; // a reply to nobody waiting: drop, never misattribute
        this.pending.delete(protocol.replyId(frames));
        this.lastUsed = performance.now();
        clearTimeout(call.timer);
        call.resolve(frames);
      }
    } catch (e) {
      if (!this.closed) this.close(new errors.Unavailable(`ZeroMQ receive: ${e.message}`));
    }
  }

  /** Takes one call out (its timer fired) and returns it, or null. */
  take(requestId) {
    const call = this.pending.get(requestId);
    if (!call) return null;
    this.pending.delete(requestId);
    clearTimeout(call.timer);
    return call;
  }

  /** Closes the socket and rejects every call still in flight with error. */
  close(error) {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    if (this.idleTimer) clearTimeout(this.idleTimer);
    try {
      this.socket.close();
    } catch (_) {
      // already closed by ZeroMQ itself: nothing left to release
    }
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) {
      clearTimeout(call.timer);
      call.reject(error);
    }
    if (this.onClose) this.onClose(this, error);
  }
}

function meta(options) {
  return options ? protocol.metadataFrame(options.ip, options.userAgent) : null;
}

function flashJson(item) {
  if (typeof item === 'string') return { queue: '', message: item };
  return { queue: String(item.queue || ''), message: String(item.message) };
}

/** A sessiond client for the app socket; share one per process. */
class Client {
  /**
   * @param {string} [endpoint] ZeroMQ endpoint of the app socket
   * @param {object} [options] {timeout: ms per call (2000), idleClose: ms
   *   after which an idle socket closes so the process may exit (10000; 0
   *   keeps it open), curveServerKey, curvePublicKey, curveSecretKey: Z85
   *   keys, all three or none}
   */
  constructor(endpoint = DEFAULT_ENDPOINT, options = {}) {
    const keys = [options.curveServerKey, options.curvePublicKey, options.curveSecretKey];
    if (keys.some(Boolean) && !keys.every(Boolean)) {
      throw new TypeError('CURVE needs the server key, the public key and the secret key');
    }
    this.endpoint = endpoint;
    this.timeout = options.timeout === undefined ? DEFAULT_TIMEOUT_MS : Number(options.timeout);
    if (!(this.timeout > 0)) throw new TypeError('timeout must be a positive number of milliseconds');
    this.idleClose = options.idleClose === undefined ? 10000 : Number(options.idleClose);
    this._curve = keys.every(Boolean)
      ? { serverKey: keys[0], publicKey: keys[1], secretKey: keys[2] } : null;
    this._conn = null;
    this._nextId = 1;
    this._closed = false;
    this._hello = null;
    this.breaker = new CircuitBreaker();
  }

  _connection() {
    if (!this._conn || this._conn.closed) {
      this._conn = new Connection(this.endpoint, this._curve, this.idleClose);
      this._conn.onClose = (conn) => {
        if (this._conn === conn) this._conn = null;
      };
    }
    return this._conn;
  }

  /** Sends one raw request and resolves with its OK result frames (Buffers);
   * rejects with the reply's error. For verbs newer than this client.
   * options: {timeout} in ms for this call. */
  async call(verb, args = [], options = {}) {
    const frames = await this._exchange(verb, args, options);
    return protocol.splitReply(frames);
  }

  async _exchange(verb, args, options = {}) {
    if (this._closed) throw new errors.Unavailable('client is closed', { code: 'CLOSED' });
    const requestId = String(this._nextId++);
    // Encoded before admission: a request over a protocol limit is the
    // caller's error and must not use up the breaker's probe.
    const frames = protocol.encodeRequest(requestId, verb, args);
    const timeoutMs = options.timeout === undefined ? this.timeout : Number(options.timeout);
    const admission = this.breaker.admit(timeoutMs);
    if (!admission) {
      throw new errors.CircuitOpen(
        `sessiond at ${this.endpoint} failed recently; next probe in `
        + `${Math.ceil(this.breaker.retryInMs())} ms`);
    }
    const conn = this._connection();
    try {
      const reply = await conn.request(requestId, frames, admission.timeoutMs, (c, id) => {
        const call = c.take(id);
        c.close(new errors.Timeout(
          `abandoned: the socket to ${this.endpoint} was rebuilt after a timeout`));
        if (call) {
          call.reject(new errors.Timeout(
            `no reply from ${this.endpoint} within ${admission.timeoutMs} ms`));
        }
      });
      this.breaker.onReply();
      return reply;
    } catch (e) {
      if (e instanceof errors.Unavailable) this.breaker.onFailure(admission);
      throw e;
    }
  }

  async _do(verb, args, parser) {
    const frames = await this._exchange(verb, args.filter((a) => a !== undefined));
    return parser(protocol.splitReply(frames), verb);
  }

  /** Closes the socket; calls in flight and later calls reject. */
  close() {
    this._closed = true;
    if (this._conn) this._conn.close(new errors.Unavailable('client is closed', { code: 'CLOSED' }));
    this._conn = null;
  }

  // -- the app verbs ---------------------------------------------------

  /** PING -> "PONG". */
  ping() {
    return this._do('PING', [], protocol.parseText);
  }

  /** VERSION -> "sessiond 0.1.0-...". */
  version() {
    return this._do('VERSION', [], protocol.parseText);
  }

  /** HELLO -> the deployment's protocol, mode, cookie name and attributes,
   * lifetimes and data cap (one round trip; see cachedHello). */
  hello() {
    return this._do('HELLO', [], protocol.parseHello);
  }

  /** HELLO once per client object: the first call asks, later calls share
   * the answer (a failed ask is not kept: the next call asks again). */
  cachedHello() {
    if (!this._hello) {
      this._hello = this.hello();
      this._hello.catch(() => { this._hello = null; });
    }
    return this._hello;
  }

  /** CREATE: a new anonymous session -> SessionReply (session.new). */
  create(options) {
    return this._do('CREATE', [meta(options) || undefined], protocol.parseSession);
  }

  /** LOAD -> SessionReply. Rejects with an InvalidCookie when the cookie is
   * no live session (treat the request as anonymous), Unavailable when
   * sessiond cannot answer. */
  load(cookie, options) {
    return this._do('LOAD', [cookie, meta(options) || undefined], protocol.parseSession);
  }

  /** COMMIT one change set atomically -> SessionReply.
   * changes: {set: {key: string}, erase: [key], flash: [{queue, message} | string]}.
   * Rejects with Conflict (a key changed since baseVersion; nothing applied),
   * Revoked (destroyed meanwhile), TooLarge, InvalidArgument. */
  commit(cookie, baseVersion, changes = {}) {
    const change = { base_version: Number(baseVersion) };
    if (changes.set && Object.keys(changes.set).length) {
      change.set = {};
      for (const [k, v] of Object.entries(changes.set)) change.set[k] = String(v);
    }
    if (changes.erase && changes.erase.length) change.erase = changes.erase.map(String);
    if (changes.flash && changes.flash.length) change.flash = changes.flash.map(flashJson);
    return this._do('COMMIT', [cookie, protocol.jsonFrame(change)], protocol.parseSession);
  }

  /** LOGIN: call after authenticating the user. New id, user set, CSRF token
   * rotated, data kept -> SessionReply with the new cookie. An empty or
   * invalid cookie starts a new logged-in session. */
  login(cookie, userId, options) {
    return this._do('LOGIN', [cookie || '', userId, meta(options) || undefined],
      protocol.parseSession);
  }

  /** REGENERATE: new id (server, hybrid mode) and CSRF token; user, data and
   * flash kept; the old cookie stops working -> SessionReply. */
  regenerate(cookie, options) {
    return this._do('REGENERATE', [cookie, meta(options) || undefined], protocol.parseSession);
  }

  /** LOGOUT: destroys the session -> {setCookie} deleting the cookie. */
  logout(cookie) {
    return this._do('LOGOUT', [cookie], protocol.parseLogout);
  }

  /** FLASH: removes and returns one queue's messages -> {reply, messages}.
   * Each message is returned by exactly one call, even under races
   * (server mode). */
  popFlash(cookie, queue = '') {
    return this._do('FLASH', [cookie, queue], protocol.parseFlash);
  }

  /** CSRF_CHECK: resolves when token is the session's CSRF token; rejects
   * with CsrfMismatch otherwise. */
  csrfCheck(cookie, token) {
    return this._do('CSRF_CHECK', [cookie, token], protocol.parseNothing);
  }

  /** CSRF_ROTATE: a new CSRF token -> SessionReply. */
  csrfRotate(cookie) {
    return this._do('CSRF_ROTATE', [cookie], protocol.parseSession);
  }

  /** REVOKE_OTHERS ("sign out all other locations") -> {ended, reply}:
   * ended is how many other sessions ended (null in client mode, where
   * reply re-issues this browser's session). */
  revokeOthers(cookie) {
    return this._do('REVOKE_OTHERS', [cookie], protocol.parseRevokeOthers);
  }

  /** LIST_SESSIONS ("your devices") -> [Session], the caller's own first
   * (current: true), then newest sign-in first. */
  listSessions(cookie) {
    return this._do('LIST_SESSIONS', [cookie], protocol.parseSessionList);
  }

  /** BUMP_EPOCH (password changed): revokes every other session and token
   * of the user -> SessionReply re-issuing this one. */
  bumpEpoch(cookie) {
    return this._do('BUMP_EPOCH', [cookie], protocol.parseSession);
  }

  // Device-bound sessions (docs/dbsc.md): server and hybrid mode (client
  // mode rejects with InvalidArgument, details.reason "client_mode"). A
  // refused proof rejects with details.proof (the reason); a binding the
  // session does not have with NotFound, details.reason "no_binding".

  /** DBSC_OFFER: a registration challenge -> {header (the
   * Secure-Session-Registration value), challenge, expires_at}. */
  dbscOffer(cookie, { path, algorithms, authorization } = {}) {
    const options = {};
    if (path) options.path = path;
    if (algorithms) options.algorithms = algorithms;
    if (authorization) options.authorization = true;
    const args = [cookie];
    if (Object.keys(options).length) args.push(protocol.jsonFrame(options));
    return this._do('DBSC_OFFER', args, protocol.parseJsonObject);
  }

  /** DBSC_REGISTER: checks the proof (the Secure-Session-Response value)
   * and binds the session to its key -> {reply, binding}
   * (binding.instructions answers the browser). options: url, refresh_url,
   * origin, include_site, exclude. */
  dbscRegister(cookie, proof, options = {}) {
    const args = [cookie, proof];
    if (Object.keys(options).length) args.push(protocol.jsonFrame(options));
    return this._do('DBSC_REGISTER', args, protocol.parseDbsc);
  }

  /** DBSC_CHALLENGE: a refresh challenge -> {header (the
   * Secure-Session-Challenge value), challenge, expires_at}. The cookie may
   * be past its bound lifetime. */
  dbscChallenge(cookie, dbscId) {
    return this._do('DBSC_CHALLENGE', [cookie, dbscId], protocol.parseJsonObject);
  }

  /** DBSC_REFRESH: checks a refresh proof with the stored key -> {reply,
   * binding} with the renewed session cookie. */
  dbscRefresh(cookie, dbscId, proof, { url } = {}) {
    const args = [cookie, dbscId, proof];
    if (url) args.push(protocol.jsonFrame({ url }));
    return this._do('DBSC_REFRESH', args, protocol.parseDbsc);
  }

  /** DBSC_END: ends the device-bound session and the session, as LOGOUT. */
  dbscEnd(cookie) {
    return this._do('DBSC_END', [cookie], protocol.parseLogout);
  }

  /** IMPORT: an old framework cookie (format 'flask', 'pyramid', 'django' or
   * 'rails'; the value as the browser sent it), verified as that framework
   * does, becomes a sessiond session -> {reply, report, created}. The same
   * cookie again answers the same session (created false). Rejects with the
   * framework's refusal (an InvalidCookie subclass, details.reason),
   * AlreadyImported once that session ended, InvalidArgument for a format
   * sessiond has no [import.<format>] for. */
  importCookie(format, cookie, options) {
    return this._do('IMPORT', [format, cookie, meta(options) || undefined],
      protocol.parseImport);
  }

  /** EXPORT: the cookie's session as the old framework's cookie (the way
   * back, for a rollback day) -> {cookie, report}. */
  exportCookie(format, cookie) {
    return this._do('EXPORT', [format, cookie], protocol.parseExport);
  }
}

/** A client for the admin socket (ipc:// path, or tcp:// with CURVE): the
 * app verbs and the admin verbs. */
class AdminClient extends Client {
  /** USER_LIST -> [Session] of the user. */
  userList(userId) {
    return this._do('USER_LIST', [userId], protocol.parseSessionList);
  }

  /** USER_REVOKE: ends all of the user's sessions, bumps the epoch -> count. */
  userRevoke(userId) {
    return this._do('USER_REVOKE', [userId], protocol.parseInteger);
  }

  /** USER_REVOKE_OTHERS -> how many ended. */
  userRevokeOthers(userId, keepSessionId) {
    return this._do('USER_REVOKE_OTHERS', [userId, keepSessionId], protocol.parseInteger);
  }

  /** SESSION_REVOKE: ends one session by id. */
  sessionRevoke(sessionId) {
    return this._do('SESSION_REVOKE', [sessionId], protocol.parseNothing);
  }

  /** KEYS_ROTATE -> the new key id; older keys retire after retireAfter
   * seconds (default: the session lifetime). */
  keysRotate(retireAfter) {
    const args = retireAfter === undefined ? [] : [Math.trunc(Number(retireAfter))];
    return this._do('KEYS_ROTATE', args, protocol.parseInteger);
  }

  /** STATS -> object of counters. */
  stats() {
    return this._do('STATS', [], protocol.parseJsonObject);
  }

  /** IMPORT_CHECK: what IMPORT would make of an old cookie (data, user,
   * times, keys renamed or not kept) -> object; creates nothing. */
  importCheck(format, cookie) {
    return this._do('IMPORT_CHECK', [format, cookie], protocol.parseJsonObject);
  }
}

module.exports = { Client, AdminClient, DEFAULT_ENDPOINT, DEFAULT_TIMEOUT_MS };
