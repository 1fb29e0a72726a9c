// RequestState: one web request's view of one browser's session on sessiond,
// the framework-neutral core of the express-session integration (the Node
// counterpart of clients/python/sessiond/state.py).
//
// It keeps what the request loaded (the snapshot: version, stored strings,
// user) and turns the request's changes into ONE COMMIT of only the keys
// whose value differs from the snapshot, so in-place mutation counts and two
// parallel requests that change different keys both land. The watched user
// key (default "userId") is not a data key: it reads sessiond's user id, a
// new value commits as LOGIN, deleting it as LOGOUT.
// Owned by one request; not shared between requests.
'use strict';

const crypto = require('node:crypto');

const errors = require('./errors');

const KEY = /^[!-~]{1,128}$/; // protocol: printable ASCII without space

/** JSON with object keys sorted, so equal values always encode the same
 * way (a reordered object is no change) and match Python's sort_keys. */
function encodeValue(value) {
  return JSON.stringify(value, function sortKeys(key, v) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted = {};
      for (const k of Object.keys(v).sort()) sorted[k] = v[k];
      return sorted;
    }
    return v;
  });
}

/** A stored string back to a value; text that is not JSON (written by a
 * client that stores plain strings) reads as that string. */
function decodeValue(text) {
  try {
    return JSON.parse(text);
  } catch (_) {
    return text;
  }
}

function checkKey(key) {
  if (!KEY.test(key)) {
    throw new errors.InvalidArgument(
      `invalid session key ${JSON.stringify(key)}: 1-128 printable ASCII characters without spaces`);
  }
}

/** Constant-time comparison of two strings. */
function sameSecret(expected, given) {
  const a = Buffer.from(String(expected), 'utf8');
  const b = Buffer.from(String(given), 'utf8');
  return a.length === b.length && a.length > 0 && crypto.timingSafeEqual(a, b);
}

class RequestState {
  /**
   * @param {import('./client').Client} client
   * @param {object} options {ip, userAgent, userKey, isReserved(key)}:
   *   isReserved tells which keys of the session object are not data
   *   (express-session's cookie and methods).
   */
  constructor(client, options = {}) {
    this.client = client;
    this.ip = options.ip || '';
    this.userAgent = options.userAgent || '';
    this.userKey = options.userKey || 'userId';
    this.isReserved = options.isReserved || (() => false);
    this.cookie = ''; // '' = no server-side session (yet)
    this.incomingCookie = '';
    this.cookieError = null; // the InvalidCookie a LOAD raised, if any
    this.revokedReason = ''; // REVOKED's reason, so a page can say why
    this.info = null; // the session of the last server reply
    this.version = 0;
    this.raw = new Map(); // key -> stored string, the snapshot
    this.user = ''; // user id as sessiond knows it
    this.setCookie = ''; // the Set-Cookie value the response needs
    this.pendingFlash = []; // [{queue, message}] appended by the commit
    this.serverFlash = []; // [{queue, message}] known to wait on the server
    this.createdHere = false;
    this.finished = false; // the end-of-request commit ran (or was dropped)
    this.destroyed = false; // LOGOUT done in this request
  }

  get meta() {
    return { ip: this.ip, userAgent: this.userAgent };
  }

  // -- snapshot --------------------------------------------------------

  /** Takes a server reply as the new snapshot: cookie, version, data, user. */
  adopt(reply) {
    this.cookie = reply.cookie;
    if (reply.setCookie) this.setCookie = reply.setCookie;
    this.info = reply.session;
    this.version = reply.session.version;
    this.raw = new Map(Object.entries(reply.session.data));
    this.user = reply.session.userId;
    this.serverFlash = reply.session.flash.slice();
    if (reply.session.new) this.createdHere = true;
  }

  /** Takes the cookie and facts of a reply that changed no data key (FLASH,
   * CSRF_ROTATE), keeping the snapshot: COMMIT must still see conflicts on
   * keys since the LOAD, and req.session still holds the LOADed values. */
  adoptCookieOnly(reply) {
    this.cookie = reply.cookie;
    if (reply.setCookie) this.setCookie = reply.setCookie;
    this.info = reply.session;
    this.serverFlash = reply.session.flash.slice();
  }

  /** Forgets the server-side session (after LOGOUT, or a dead cookie). */
  reset() {
    this.cookie = '';
    this.info = null;
    this.version = 0;
    this.raw = new Map();
    this.user = '';
    this.serverFlash = [];
    this.createdHere = false;
  }

  /** The session's values as the snapshot has them: {key: value}, the user
   * under userKey when logged in. Keys the session object cannot hold
   * (reserved names) are left out, and never erased by a commit. */
  values() {
    const out = {};
    for (const [key, text] of this.raw) {
      if (!this.isReserved(key)) out[key] = decodeValue(text);
    }
    if (this.user) out[this.userKey] = this.user;
    return out;
  }

  /** The data keys and values of a session object (skips reserved keys,
   * the user key, undefined and functions: JSON would drop them too). */
  current(sess) {
    const out = new Map();
    for (const key of Object.keys(sess)) {
      if (key === this.userKey || this.isReserved(key)) continue;
      const value = sess[key];
      if (value === undefined || typeof value === 'function') continue;
      out.set(key, value);
    }
    return out;
  }

  /** The user id a session object asks for ('' = anonymous). */
  userOf(sess) {
    const v = sess ? sess[this.userKey] : undefined;
    return v === undefined || v === null || v === '' || v === false ? '' : String(v);
  }

  /** {set: {key: text}, erase: [key]} of a session object against the
   * snapshot. Throws InvalidArgument for a key sessiond cannot store and
   * TypeError for a value JSON cannot encode. */
  changes(sess) {
    const set = {};
    const erase = [];
    const now = this.current(sess);
    for (const [key, value] of now) {
      checkKey(key);
      const text = encodeValue(value);
      const stored = this.raw.get(key);
      // Text written by this client is already canonical: equal text is
      // the common unchanged case and skips decoding the stored value.
      if (stored === undefined
        || (stored !== text && encodeValue(decodeValue(stored)) !== text)) set[key] = text;
    }
    for (const key of this.raw.keys()) {
      if (!now.has(key) && !this.isReserved(key) && key !== this.userKey) erase.push(key);
    }
    return { set, erase };
  }

  /** Writes the snapshot's values into a session object: keys another
   * request changed since the LOAD appear, keys erased meanwhile go, so
   * a later save cannot write stale values back. */
  refresh(sess, keep = {}) {
    if (!sess) return;
    const values = this.values();
    for (const key of Object.keys(sess)) {
      if (this.isReserved(key)) continue;
      if (!(key in values)) delete sess[key];
    }
    Object.assign(sess, values);
    for (const [key, value] of Object.entries(keep.set || {})) sess[key] = decodeValue(value);
    for (const key of keep.erase || []) delete sess[key];
    if (keep.user !== undefined) {
      if (keep.user) sess[this.userKey] = keep.user;
      else delete sess[this.userKey];
    }
  }

  // -- server verbs ----------------------------------------------------

  /** Makes sure a server-side session exists (CREATE if needed). */
  async ensureCreated() {
    if (!this.cookie) this.adopt(await this.client.create(this.meta));
  }

  /** LOGIN now: new id, user set, CSRF rotated; data kept. sess (the
   * request's session object) keeps this request's uncommitted changes. */
  async login(userId, sess) {
    const pending = sess ? this.changes(sess) : {};
    const reply = await this.client.login(this.cookie, String(userId), this.meta);
    this.adopt(reply);
    this.destroyed = false;
    this.refresh(sess, { ...pending, user: this.user });
  }

  /** REGENERATE now (new id and CSRF token; user, data, flash kept). A
   * session that exists only in this request needs nothing on the server. */
  async regenerate(sess) {
    if (!this.cookie) return;
    const pending = sess ? this.changes(sess) : {};
    const user = sess ? this.userOf(sess) : this.user;
    let reply;
    try {
      reply = await this.client.regenerate(this.cookie, this.meta);
    } catch (e) {
      if (!(e instanceof errors.InvalidCookie)) throw e;
      // Ended meanwhile (revoked elsewhere): go on as a new anonymous
      // session, as express-session's regenerate would.
      this.cookieError = e;
      this.reset();
      if (sess) this.refresh(sess, { ...pending, user: '' });
      return;
    }
    this.adopt(reply);
    this.refresh(sess, { ...pending, user });
  }

  /** LOGOUT now; the request goes on with no server-side session. */
  async logout() {
    if (this.cookie) {
      try {
        const reply = await this.client.logout(this.cookie);
        if (reply.setCookie) this.setCookie = reply.setCookie;
      } catch (e) {
        if (!(e instanceof errors.InvalidCookie)) throw e;
        // already gone: the browser's cookie is dead either way
      }
      this.destroyed = true;
    }
    this.reset();
    this.pendingFlash = [];
  }

  /** Sends a session object's changes: LOGIN or LOGOUT when the user key
   * changed, then ONE COMMIT (set, erase, flash), creating the session
   * first when there is none. Refreshes sess from the reply.
   *
   * options.create: create the session even with nothing to write
   * (express-session's saveUninitialized).
   * Rejects with Conflict (nothing applied), TooLarge, Unavailable,
   * InvalidArgument. A session destroyed meanwhile (an InvalidCookie) is
   * not an error: it stays destroyed and the changes are dropped.
   */
  async save(sess, options = {}) {
    let { set, erase } = this.changes(sess);
    const wanted = this.userOf(sess);
    if (wanted !== this.user) {
      if (wanted) {
        await this.login(wanted, null);
      } else {
        // The user key was deleted: the session ends, and what the request
        // keeps goes into a fresh anonymous session.
        const flash = this.pendingFlash;
        await this.logout();
        this.pendingFlash = flash;
        set = {};
        for (const [key, value] of this.current(sess)) set[key] = encodeValue(value);
        erase = [];
      }
    }
    const flash = this.pendingFlash.slice();
    const anything = Object.keys(set).length || erase.length || flash.length;
    if (!anything && !(options.create && !this.cookie)) {
      this.refresh(sess, { user: this.user });
      return;
    }
    if (!this.cookie) await this.ensureCreated();
    if (anything) {
      try {
        this.adopt(await this.client.commit(this.cookie, this.version, { set, erase, flash }));
        this.pendingFlash = this.pendingFlash.slice(flash.length);
      } catch (e) {
        if (!(e instanceof errors.InvalidCookie)) throw e;
        this.cookieError = e;
        this.reset();
        this.pendingFlash = [];
        return;
      }
    }
    this.refresh(sess, { user: this.user });
  }

  // -- flash -----------------------------------------------------------

  flash(message, queue = '') {
    if (typeof message !== 'string') throw new TypeError('flash messages must be strings');
    if (queue) checkKey(queue);
    this.pendingFlash.push({ queue, message });
  }

  /** The queue's messages (as loaded, plus this request's), not removed. */
  peekFlashes(queue = '') {
    return this.serverFlash.filter((f) => f.queue === queue).map((f) => f.message)
      .concat(this.pendingFlash.filter((f) => f.queue === queue).map((f) => f.message));
  }

  /** Removes and returns the queue's messages, oldest first. sessiond's
   * FLASH pops atomically: each message goes to exactly one request even
   * when two race. Skipped when the loaded session had nothing queued. */
  async popFlashes(queue = '') {
    const messages = [];
    if (this.cookie && this.serverFlash.some((f) => f.queue === queue)) {
      try {
        const result = await this.client.popFlash(this.cookie, queue);
        messages.push(...result.messages);
        this.adoptCookieOnly(result.reply);
      } catch (e) {
        if (!(e instanceof errors.InvalidCookie)) throw e;
        this.serverFlash = []; // destroyed meanwhile: nothing to show
      }
    }
    for (const f of this.pendingFlash) if (f.queue === queue) messages.push(f.message);
    this.pendingFlash = this.pendingFlash.filter((f) => f.queue !== queue);
    return messages;
  }

  // -- CSRF ------------------------------------------------------------

  async csrfToken() {
    await this.ensureCreated();
    return this.info.csrfToken;
  }

  checkCsrf(token) {
    if (!this.cookie || !this.info || !token) return false;
    return sameSecret(this.info.csrfToken, token);
  }

  async rotateCsrf() {
    await this.ensureCreated();
    this.adoptCookieOnly(await this.client.csrfRotate(this.cookie));
    return this.info.csrfToken;
  }

  // -- account verbs ---------------------------------------------------

  requireUser(what) {
    if (!this.cookie || !this.user) {
      throw new errors.LoginRequired(`${what} needs a logged-in user; this session is anonymous`);
    }
  }

  async listDevices() {
    if (!this.cookie) return [];
    return this.client.listSessions(this.cookie);
  }

  async revokeOthers(sess) {
    this.requireUser('signing out other locations');
    const result = await this.client.revokeOthers(this.cookie);
    if (result.reply) {
      const pending = sess ? this.changes(sess) : {};
      this.adopt(result.reply);
      this.refresh(sess, { ...pending, user: this.user });
    }
    return result.ended;
  }

  async bumpEpoch(sess) {
    this.requireUser('password changed');
    const pending = sess ? this.changes(sess) : {};
    this.adopt(await this.client.bumpEpoch(this.cookie));
    this.refresh(sess, { ...pending, user: this.user });
  }
}

module.exports = { RequestState, encodeValue, decodeValue, checkKey, sameSecret };
