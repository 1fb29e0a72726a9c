// express-session on sessiond: SessiondStore (the documented Store contract),
// session() (express-session itself, configured from sessiond's HELLO and
// wrapped so each request's changes are committed BEFORE the response
// headers go out), csrf() and errorHandler(). What the app writes:
//
//   const { SessiondStore, session, csrf } = require('sessiond/express');
//   app.use(session({ store: new SessiondStore({ client }) }));
//   app.use(csrf());
//
// Why a wrapper and not express-session's middleware alone: express-session
// writes the response headers (its Set-Cookie included) before store.set
// runs, so it can neither send a cookie that the commit changed (LOGIN,
// CREATE, rotation) nor turn a failed commit into a 503 or a 409. And it
// names sessions synchronously (genid), while sessiond issues the cookie
// value over the network. The wrapper (1) LOADs the cookie the browser
// sent, (2) runs express-session with the cookie name and attributes of
// HELLO, handing it sessiond's cookie value as the session id (signed with
// a per-process key that never leaves the process: sessiond's own token is
// the credential), (3) commits the request's changes when the app calls
// res.end, and (4) sends sessiond's own Set-Cookie line in place of
// express-session's, so the browser holds exactly sessiond's cookie.
'use strict';

const crypto = require('node:crypto');
const util = require('node:util');

const cookie = require('cookie');
const signature = require('cookie-signature');
const expressSession = require('express-session');
const onHeaders = require('on-headers');
const vary = require('vary');

const errors = require('./errors');
const { RequestState, sameSecret } = require('./state');

const { Store, Session } = expressSession;

const kState = Symbol('sessiond.state'); // req -> RequestState
const kBase = Symbol('sessiond.base'); // session data from get() -> its reply
const kHandoff = Symbol('sessiond.handoff'); // store -> the LOAD just done
const kDecorated = Symbol('sessiond.decorated');

const PROVISIONAL = '~'; // never starts a base64url cookie value
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// Names the session object itself uses: a data key of that name could not
// be read through req.session, so it is left alone (never erased).
const RESERVED = new Set(['cookie', 'id', 'req']);
for (let p = Session.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
  for (const name of Object.getOwnPropertyNames(p)) RESERVED.add(name);
}
const isReserved = (key) => RESERVED.has(key);

function provisionalId() {
  return PROVISIONAL + crypto.randomBytes(18).toString('base64url');
}

const defaultLogger = {
  debug() {},
  info() {},
  warn: (...args) => console.warn(...args),
  error: (...args) => console.error(...args),
};

// -- HTTP mapping (ROUND.md, the same in every integration) ---------------

const UNAVAILABLE_HEADERS = Object.freeze({ 'Retry-After': '5', 'Cache-Control': 'no-store' });

/** The HTTP status a sessiond error maps onto. */
function httpStatusOf(err) {
  if (err instanceof errors.Unavailable) return 503;
  if (err instanceof errors.Conflict) return 409;
  if (err instanceof errors.CsrfMismatch) return 403;
  if (err instanceof errors.LoginRequired) return 401;
  return 500;
}

/** Marks a sessiond error for Express's error handling: status and
 * statusCode (what finalhandler and most error pages read), headers (which
 * finalhandler sends), expose for the 4xx ones. Returns err. */
function forHttp(err) {
  if (!(err instanceof errors.SessiondError) || err.status) return err;
  const status = httpStatusOf(err);
  err.status = status;
  err.statusCode = status;
  err.expose = status < 500;
  err.headers = status === 503 ? { ...UNAVAILABLE_HEADERS } : { 'Cache-Control': 'no-store' };
  return err;
}

// -- the Store -------------------------------------------------------------

/**
 * An express-session Store on sessiond.
 *
 * Through session() (the way to use it), one request's session is loaded
 * once, and its changes are committed once, as ONE COMMIT of only the keys
 * that changed since it loaded. Called directly (a script, a test), the
 * methods work on a session id, which is sessiond's cookie value:
 *   get(sid, cb)           LOAD -> the session's data (userId included), or
 *                          null when the cookie is no live session
 *   set(sid, sess, cb)     COMMIT of the keys that differ from what get()
 *                          returned for sess (or, for a session object that
 *                          did not come from get(), from the stored session)
 *   destroy(sid, cb)       LOGOUT
 *   touch(sid, sess, cb)   no write: LOAD already slides the idle expiry
 *   length(cb)             STATS' session count (needs adminClient)
 *   regenerate(req, cb)    REGENERATE: new id and CSRF token, data kept
 * all(), clear() and ids() are deliberately absent: no app-socket verb lists
 * or erases every session, and an app process should not be able to.
 */
class SessiondStore extends Store {
  /**
   * @param {object} options {client (required), adminClient (for length),
   *   userKey: the session key that holds the user id ('userId'),
   *   logger: {debug, info, warn, error} (console for warn and error)}
   */
  constructor(options = {}) {
    super();
    if (!options.client) throw new TypeError('SessiondStore needs {client: new Client(endpoint)}');
    this.client = options.client;
    this.adminClient = options.adminClient || null;
    this.userKey = options.userKey || 'userId';
    this.logger = options.logger || defaultLogger;
    this[kHandoff] = null;
  }

  /** A RequestState for this store's client. */
  newState(options = {}) {
    return new RequestState(this.client, { ...options, userKey: this.userKey, isReserved });
  }

  /** The object express-session builds req.session from: the data values,
   * the user under userKey, and a cookie description. */
  sessionData(state, cookieOptions = {}) {
    const data = state.values();
    const expires = state.info && state.info.expiresAt
      ? new Date(state.info.expiresAt * 1000) : undefined;
    data.cookie = { ...cookieOptions, expires, originalMaxAge: cookieOptions.maxAge };
    delete data.cookie.maxAge;
    Object.defineProperty(data, kBase, { value: state });
    return data;
  }

  get(sid, callback) {
    const handoff = this[kHandoff];
    if (handoff && handoff.cookie === sid) {
      // session() LOADed this cookie a moment ago, in the same synchronous
      // stretch that calls express-session: no second round trip.
      this[kHandoff] = null;
      process.nextTick(callback, null, this.sessionData(handoff, handoff.cookieOptions));
      return;
    }
    if (!sid || sid.startsWith(PROVISIONAL)) {
      process.nextTick(callback, null, null);
      return;
    }
    const state = this.newState();
    this.client.load(sid).then((reply) => {
      state.adopt(reply);
      callback(null, this.sessionData(state));
    }, (err) => {
      if (err instanceof errors.InvalidCookie) callback(null, null);
      else callback(forHttp(err));
    });
  }

  createSession(req, data) {
    const base = data[kBase];
    const sess = super.createSession(req, data);
    if (base && !req[kState]) Object.defineProperty(sess, kBase, { value: base });
    decorate(this, req);
    return sess;
  }

  set(sid, sess, callback = () => {}) {
    const req = sess && sess.req;
    const state = req && req[kState];
    if (state) {
      // Within session(): the commit at res.end is the one write; an
      // explicit req.session.save() commits what changed so far.
      if (state.finished) {
        process.nextTick(callback);
        return;
      }
      state.save(sess).then(() => {
        req.sessionID = state.cookie || req.sessionID;
        callback();
      }, (err) => callback(forHttp(err)));
      return;
    }
    this._setStandalone(sid, sess).then(() => callback(), (err) => callback(forHttp(err)));
  }

  async _setStandalone(sid, sess) {
    let state = sess[kBase];
    if (!state) {
      state = this.newState();
      if (sid && !sid.startsWith(PROVISIONAL)) state.adopt(await this.client.load(sid));
    }
    await state.save(sess);
  }

  destroy(sid, callback = () => {}) {
    if (!sid || sid.startsWith(PROVISIONAL)) {
      process.nextTick(callback);
      return;
    }
    this.client.logout(sid).then(() => callback(), (err) => {
      if (err instanceof errors.InvalidCookie) callback();
      else callback(forHttp(err));
    });
  }

  touch(sid, sess, callback = () => {}) {
    // LOAD slides last_seen_at and the idle expiry on sessiond; there is
    // nothing to write back (express-session would resave otherwise).
    process.nextTick(callback);
  }

  length(callback) {
    if (!this.adminClient) {
      process.nextTick(callback, new TypeError(
        'SessiondStore.length needs {adminClient}: only the admin socket counts sessions'));
      return;
    }
    this.adminClient.stats().then((s) => callback(null, Number(s.sessions) || 0),
      (err) => callback(forHttp(err)));
  }

  regenerate(req, callback) {
    const state = req[kState];
    if (!state) {
      Store.prototype.regenerate.call(this, req, callback);
      return;
    }
    const old = req.session;
    state.regenerate(old).then(() => {
      // The new Session holds what the old one held (refreshed from the
      // REGENERATE reply, this request's changes kept): sessiond keeps the
      // data, unlike express-session's own regenerate.
      const data = this.sessionData(state, state.cookieOptions);
      if (old) {
        for (const key of Object.keys(data)) if (key !== 'cookie') delete data[key];
        for (const key of Object.keys(old)) if (key !== 'cookie') data[key] = old[key];
      }
      req.sessionID = state.cookie || provisionalId();
      this.createSession(req, data);
      callback();
    }, (err) => callback(forHttp(err)));
  }
}

/** Gives a request's session object destroy() and reload() that act on the
 * request's current cookie (express-session passes the Session's id, which
 * it fixes when the object is made: sessiond's cookie may have changed since). */
function decorate(store, req) {
  const sess = req.session;
  const state = req[kState];
  if (!sess || !state || sess[kDecorated]) return;
  Object.defineProperty(sess, kDecorated, { value: true });
  Object.defineProperty(sess, 'destroy', {
    configurable: true,
    enumerable: false,
    writable: true,
    value: function destroy(fn = () => {}) {
      delete req.session;
      state.logout().then(() => {
        req.sessionID = provisionalId(); // nothing left for express-session to destroy
        fn();
      }, (err) => fn(forHttp(err)));
      return this;
    },
  });
  Object.defineProperty(sess, 'reload', {
    configurable: true,
    enumerable: false,
    writable: true,
    value: function reload(fn = () => {}) {
      if (!state.cookie) {
        fn(new Error('failed to load session'));
        return this;
      }
      store.client.load(state.cookie).then((reply) => {
        state.adopt(reply);
        state.pendingFlash = [];
        store.createSession(req, store.sessionData(state, state.cookieOptions));
        fn();
      }, (err) => fn(err instanceof errors.InvalidCookie
        ? new Error('failed to load session') : forHttp(err)));
      return this;
    },
  });
}

// -- session(): express-session, configured and wrapped ----------------------

/** express-session's cookie options from HELLO's cookie. */
function cookieOptionsOf(helloCookie) {
  const options = {
    path: helloCookie.path || '/',
    httpOnly: helloCookie.httpOnly,
    secure: helloCookie.secure,
  };
  if (helloCookie.domain) options.domain = helloCookie.domain;
  if (helloCookie.sameSite) options.sameSite = helloCookie.sameSite.toLowerCase();
  if (helloCookie.maxAge) options.maxAge = helloCookie.maxAge * 1000;
  return options;
}

function sameSiteText(v) {
  if (v === true) return 'strict';
  if (v === false || v === undefined || v === null) return '';
  return String(v).toLowerCase();
}

/** Throws when the app's express-session options name a cookie or cookie
 * attributes that differ from sessiond's ([cookie] in sessiond.conf, told
 * by HELLO): one source of truth, and a loud error naming both. */
function checkAppOptions(options, helloCookie, fromHello) {
  const where = fromHello ? 'sessiond (HELLO, [cookie] in sessiond.conf)' : 'sessiond';
  const name = options.name || options.key;
  if (name && name !== helloCookie.name) {
    throw new Error(`sessiond configuration error: the app names the session cookie `
      + `"${name}" but ${where} names it "${helloCookie.name}". Remove the name option `
      + `or make the two agree.`);
  }
  const c = options.cookie;
  if (!c) return;
  if (typeof c === 'function') {
    throw new Error('sessiond configuration error: cookie options cannot be a function; '
      + `${where} decides the cookie attributes`);
  }
  if (!fromHello) return; // an old server: nothing to compare with
  const theirs = cookieOptionsOf(helloCookie);
  const checks = [
    ['path', c.path, theirs.path, (a, b) => a === b],
    ['domain', c.domain, theirs.domain || '', (a, b) => (a || '') === b],
    ['secure', c.secure, theirs.secure, (a, b) => a === b],
    ['httpOnly', c.httpOnly, theirs.httpOnly, (a, b) => a === b],
    ['sameSite', c.sameSite, sameSiteText(theirs.sameSite), (a, b) => sameSiteText(a) === b],
    ['maxAge', c.maxAge, theirs.maxAge, (a, b) => a === b],
  ];
  for (const [key, mine, server, same] of checks) {
    if (mine !== undefined && !same(mine, server)) {
      throw new Error(`sessiond configuration error: the app sets cookie.${key} = `
        + `${util.inspect(mine)} but ${where} says ${util.inspect(server)}. `
        + `Set it in sessiond.conf [cookie] and drop it from the app.`);
    }
  }
  if (c.expires !== undefined) {
    throw new Error('sessiond configuration error: cookie.expires is decided by sessiond '
      + '([session] lifetime); drop it from the app');
  }
}

/** The Set-Cookie name of a header line. */
function setCookieName(line) {
  const eq = String(line).indexOf('=');
  return eq < 0 ? '' : String(line).slice(0, eq).trim();
}

/**
 * express-session on sessiond. Takes express-session's options; `store` must
 * be a SessiondStore. sessiond decides the cookie (name, attributes,
 * lifetime): an app option that contradicts HELLO is a configuration error.
 * Extra options: commitOnError (false: a response with status >= 400
 * commits no data change), logger.
 * Ignored express-session options, each with why (docs/express.md):
 * secret (sessiond signs its cookie), resave (never writes the whole
 * session back), rolling (idle expiry slides on sessiond), genid (sessiond
 * issues ids).
 */
function session(options = {}) {
  const store = options.store;
  if (!(store instanceof SessiondStore)) {
    throw new TypeError('session() needs {store: new SessiondStore({client})}');
  }
  const logger = options.logger || store.logger;
  const commitOnError = Boolean(options.commitOnError);
  const saveUninitialized = options.saveUninitialized === true;
  const unsetDestroy = options.unset === 'destroy';
  // express-session signs the id it reads with this; the signed form exists
  // only inside this process (the browser holds sessiond's own value).
  const internalSecret = crypto.randomBytes(32).toString('base64url');
  let secureWarned = false;
  let setup = null;

  async function build() {
    let hello;
    let fromHello = true;
    try {
      hello = await store.client.cachedHello();
    } catch (e) {
      if (!(e instanceof errors.UnknownVerb)) throw e;
      // A sessiond older than HELLO: the cookie name from the app or the
      // default, and the attributes of sessiond's own Set-Cookie lines.
      fromHello = false;
      hello = { cookie: { name: options.name || options.key || 'sessiond', path: '/',
        domain: '', secure: true, httpOnly: true, sameSite: 'Lax', maxAge: 0 } };
      logger.warn('sessiond: the server does not answer HELLO; cookie name '
        + `"${hello.cookie.name}" assumed (upgrade sessiond)`);
    }
    checkAppOptions(options, hello.cookie, fromHello);
    const cookieOptions = cookieOptionsOf(hello.cookie);
    const esOptions = {
      ...options,
      store,
      name: hello.cookie.name,
      secret: internalSecret,
      genid: provisionalId,
      cookie: cookieOptions,
      resave: false,
      rolling: false,
      saveUninitialized: false,
      unset: options.unset === 'destroy' ? 'destroy' : 'keep',
    };
    delete esOptions.key;
    const middleware = expressSession(esOptions);
    // express-session sets store.generate for new sessions; give the
    // Session objects it makes our destroy() and reload() too.
    const generate = store.generate;
    store.generate = function generateThenDecorate(req) {
      generate.call(this, req);
      decorate(store, req);
    };
    return { middleware, name: hello.cookie.name, cookieOptions };
  }

  return function sessiondSession(req, res, next) {
    if (req.session) {
      next();
      return;
    }
    if (!setup) {
      setup = build();
      setup.catch(() => { setup = null; }); // asked again by the next request
    }
    setup.then((s) => handle(s, req, res, next), (err) => {
      if (!(err instanceof errors.SessiondError)) logger.error(err.message);
      next(forHttp(err));
    }).catch((err) => next(forHttp(err)));
  };

  async function handle(s, req, res, next) {
    const state = store.newState({
      ip: req.ip || (req.socket && req.socket.remoteAddress) || '',
      userAgent: req.headers['user-agent'] || '',
    });
    state.cookieOptions = s.cookieOptions;
    req[kState] = state;
    const sent = req.headers.cookie ? cookie.parse(req.headers.cookie)[s.name] : undefined;
    if (sent) {
      state.incomingCookie = sent;
      try {
        state.adopt(await store.client.load(sent));
      } catch (e) {
        if (!(e instanceof errors.InvalidCookie)) {
          next(forHttp(e));
          return;
        }
        state.cookieError = e;
        if (e instanceof errors.Revoked) state.revokedReason = e.reason;
        logger.info(`sessiond: ignoring session cookie: ${e.code}`);
      }
    }

    // Registered before express-session's, so it runs after it (on-headers
    // calls listeners last-registered first) and can replace its cookie.
    onHeaders(res, function sendSessiondCookie() {
      const lines = [].concat(res.getHeader('Set-Cookie') || [])
        .filter((line) => setCookieName(line) !== s.name);
      if (state.setCookie) {
        lines.push(state.setCookie);
        if (!secureWarned && /;\s*secure/i.test(state.setCookie) && !req.secure) {
          secureWarned = true;
          logger.warn('sessiond: a Secure session cookie was sent over plain http; the '
            + 'browser will not send it back. Serve https, set app "trust proxy" behind '
            + 'a TLS proxy, or set [cookie] secure = false in sessiond.conf for development.');
        }
      }
      if (lines.length) res.setHeader('Set-Cookie', lines);
      else res.removeHeader('Set-Cookie');
      if (state.incomingCookie || state.setCookie) vary(res, 'Cookie');
    });

    // express-session reads its cookie and calls store.get synchronously
    // inside this call; it sees only sessiond's value, signed for it.
    const original = req.headers.cookie;
    let restored = false;
    const restore = () => {
      if (restored) return;
      restored = true;
      store[kHandoff] = null;
      if (original === undefined) delete req.headers.cookie;
      else req.headers.cookie = original;
    };
    req.headers.cookie = state.cookie
      ? cookie.serialize(s.name, `s:${signature.sign(state.cookie, internalSecret)}`) : '';
    store[kHandoff] = state.cookie ? state : null;
    try {
      s.middleware(req, res, (err) => {
        restore();
        if (err) {
          next(err);
          return;
        }
        if (req.session) req.sessionID = state.cookie || req.sessionID;
        decorate(store, req);
        req.sessiond = new SessionHandle(req, state);
        hookEnd(req, res, state, next);
        next();
      });
    } finally {
      restore();
    }
  }

  // The commit runs when the app calls res.end, before the headers exist,
  // so the response carries the cookie the commit produced, or the error
  // the commit met (503, 409, 500) instead of the page.
  function hookEnd(req, res, state, next) {
    const end = res.end;
    let passThrough = false;
    res.end = function endAfterCommit(chunk, encoding, callback) {
      if (passThrough || res.headersSent) {
        // An error page, or headers already sent (streaming, writeHead):
        // express-session's own save commits after the headers, as it
        // always does; a changed cookie cannot be sent then.
        if (!passThrough && res.headersSent && !state.finished) {
          logger.debug('sessiond: committing after the headers were sent');
        }
        return end.call(this, chunk, encoding, callback);
      }
      passThrough = true;
      finish(req, res, state).then(() => {
        end.call(res, chunk, encoding, callback);
      }, (err) => {
        state.finished = true;
        if (err instanceof errors.TooLarge) {
          logger.error(`sessiond: session data over sessiond's cap, nothing stored: ${err.message}`);
        } else if (!(err instanceof errors.Unavailable || err instanceof errors.Conflict)) {
          logger.error(`sessiond: commit failed: ${err.stack || err}`);
        } else {
          logger.warn(`sessiond: commit failed: ${err.message}`);
        }
        for (const name of res.getHeaderNames()) res.removeHeader(name);
        next(forHttp(err));
      });
      return res;
    };
  }

  async function finish(req, res, state) {
    if (state.finished) return;
    const discard = res.statusCode >= 400 && !commitOnError;
    if (req.session == null) {
      if (unsetDestroy && !discard && state.cookie) {
        await state.logout();
        req.sessionID = provisionalId(); // express-session's destroy: nothing left
      }
      // A flash queued after destroy() ("Signed out.") goes to a new
      // anonymous session, so the next page can show it.
      if (state.pendingFlash.length && !discard) await state.save({});
    } else if (!discard) {
      const isNew = !state.cookie;
      await state.save(req.session, { create: saveUninitialized && isNew });
    }
    state.finished = true;
    if (req.session) req.sessionID = state.cookie || req.sessionID;
  }
}

// -- the helpers: what express-session cannot express ------------------------

/** req.sessiond: the request's session on sessiond, beyond req.session. */
class SessionHandle {
  constructor(req, state) {
    this._req = req;
    this._state = state;
  }

  /** The logged-in user's id as sessiond knows it ('' when anonymous). */
  get userId() {
    return this._state.user;
  }

  /** Why the cookie this request brought was revoked ('' when it was not,
   * or the server did not say): logout, login, signed_out_elsewhere,
   * password_changed, admin, session_limit, reuse_detected, device_binding. */
  get revokedReason() {
    return this._state.revokedReason;
  }

  /** The InvalidCookie the request's cookie met, or null. */
  get cookieError() {
    return this._state.cookieError;
  }

  /** The session as sessiond last described it (createdAt,
   * authenticatedAt, expiresAt, ...), or null when there is none. */
  get info() {
    return this._state.cookie ? this._state.info : null;
  }

  _sync() {
    if (this._req.session) this._req.sessionID = this._state.cookie || this._req.sessionID;
  }

  /** Logs userId in now (call after checking the password): LOGIN gives a
   * new session id and CSRF token and keeps the data. Same as setting
   * req.session.userId, but done at once. */
  async login(userId) {
    try {
      await this._state.login(userId, this._req.session);
    } catch (e) {
      throw forHttp(e);
    }
    this._sync();
  }

  /** Logs out now (LOGOUT); the request goes on with a new empty session. */
  async logout() {
    try {
      await this._state.logout();
    } catch (e) {
      throw forHttp(e);
    }
    const store = this._req.sessionStore;
    if (store && typeof store.generate === 'function') store.generate(this._req);
  }

  /** "Your devices": the user's sessions, this one first (current: true),
   * then newest sign-in first. [] when the request has no session. */
  async devices() {
    try {
      const list = await this._state.listDevices();
      return list.map((s) => ({
        id: s.id,
        current: s.current,
        ip: s.ip,
        userAgent: s.userAgent,
        createdAt: s.createdAt,
        authenticatedAt: s.authenticatedAt,
        lastSeenAt: s.lastSeenAt,
        expiresAt: s.expiresAt,
      }));
    } catch (e) {
      throw forHttp(e);
    }
  }

  /** Signs out every other location of the user (REVOKE_OTHERS) -> how many
   * ended (null in client mode). LoginRequired (401) when anonymous. */
  async signOutOthers() {
    try {
      const ended = await this._state.revokeOthers(this._req.session);
      this._sync();
      return ended;
    } catch (e) {
      throw forHttp(e);
    }
  }

  /** Password changed: every other session and token of the user ends
   * (BUMP_EPOCH); this one is re-issued. LoginRequired (401) when anonymous. */
  async passwordChanged() {
    try {
      await this._state.bumpEpoch(this._req.session);
      this._sync();
    } catch (e) {
      throw forHttp(e);
    }
  }

  /** Queues a flash message (sent with the request's commit). */
  flash(message, queue = '') {
    this._state.flash(message, queue);
  }

  /** Removes and returns a queue's messages, oldest first: each is shown
   * exactly once, even when two requests race (sessiond's FLASH). */
  async flashes(queue = '') {
    try {
      return await this._state.popFlashes(queue);
    } catch (e) {
      throw forHttp(e);
    }
  }

  /** A queue's messages without removing them. */
  peekFlashes(queue = '') {
    return this._state.peekFlashes(queue);
  }

  /** The session's CSRF token (creates the session when there is none:
   * sessiond issues the token). */
  async csrfToken() {
    try {
      const token = await this._state.csrfToken();
      this._sync();
      return token;
    } catch (e) {
      throw forHttp(e);
    }
  }

  /** Whether token is this session's CSRF token (constant time). */
  checkCsrf(token) {
    return this._state.checkCsrf(token);
  }

  /** A new CSRF token (CSRF_ROTATE). */
  async rotateCsrf() {
    try {
      const token = await this._state.rotateCsrf();
      this._sync();
      return token;
    } catch (e) {
      throw forHttp(e);
    }
  }
}

/**
 * CSRF protection on sessiond's token: every POST, PUT, PATCH and DELETE
 * must carry the session's token in the X-CSRF-Token header or the _csrf
 * body field (parse bodies before it), or it fails with CsrfMismatch (403).
 * options: {header: 'x-csrf-token', field: '_csrf', ignoreMethods}.
 */
function csrf(options = {}) {
  const header = (options.header || 'x-csrf-token').toLowerCase();
  const field = options.field || '_csrf';
  const unsafe = options.methods ? new Set(options.methods.map((m) => m.toUpperCase()))
    : UNSAFE_METHODS;
  return function sessiondCsrf(req, res, next) {
    if (!unsafe.has(req.method)) {
      next();
      return;
    }
    if (!req.sessiond) {
      next(new Error('csrf() must come after session() from sessiond/express'));
      return;
    }
    const token = req.headers[header] || (req.body && typeof req.body === 'object' && req.body[field]) || '';
    if (typeof token === 'string' && req.sessiond.checkCsrf(token)) {
      next();
      return;
    }
    next(forHttp(new errors.CsrfMismatch('CSRF token missing or wrong')));
  };
}

/**
 * An error handler for sessiond's errors (put it after the routes): 503
 * with Retry-After for Unavailable, 409 Conflict, 403 CsrfMismatch, 401
 * LoginRequired, 500 otherwise; JSON when the client asks for it, else a
 * small HTML page. Other errors go to the next error handler.
 */
function errorHandler() {
  const TEXT = {
    503: 'The session service is not reachable right now. Please try again in a moment.',
    409: 'Your session was changed by another request at the same time. Please reload and try again.',
    403: 'The form was stale or forged (CSRF token missing or wrong). Reload the page and try again.',
    401: 'Please sign in first.',
    500: 'The session could not be saved.',
  };
  return function sessiondErrorHandler(err, req, res, next) {
    if (!(err instanceof errors.SessiondError) || res.headersSent) {
      next(err);
      return;
    }
    forHttp(err);
    res.status(err.status);
    res.set(err.headers);
    const text = TEXT[err.status] || TEXT[500];
    if (req.accepts(['html', 'json']) === 'json') {
      res.json({ error: err.code, message: text });
    } else {
      res.type('html').send(`<!doctype html><title>${err.status}</title>`
        + `<h1>${err.status}</h1><p>${text}</p>`);
    }
  };
}

module.exports = {
  SessiondStore, session, csrf, errorHandler, SessionHandle, forHttp, httpStatusOf,
  sameSecret, Store, Session, Cookie: expressSession.Cookie, MemoryStore: expressSession.MemoryStore,
};
