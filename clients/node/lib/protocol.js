// SD1 frames and values (docs/protocol.md): building requests, splitting
// replies, and the typed results of each verb. Pure functions, no sockets.
//
// Request, as a DEALER sends it:  "" | "SD1" | request id | VERB | args...
// Reply, as a DEALER receives it: "" | "SD1" | request id | STATUS | results...
// STATUS is "OK" or an error code; on an error frame 4 is a message and an
// optional frame 5 a JSON object of details (unknown frames are ignored).
'use strict';

const errors = require('./errors');

const TAG = Buffer.from('SD1');
const EMPTY = Buffer.alloc(0);
const MAX_FRAMES = 16;
const MAX_FRAME_BYTES = 65536;
const MAX_REQUEST_ID_BYTES = 64;

/** A frame from a string (UTF-8), Buffer, integer (decimal) or null/undefined
 * (empty). */
function frame(value) {
  if (value === null || value === undefined) return EMPTY;
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (typeof value === 'number' && Number.isInteger(value)) return Buffer.from(String(value));
  throw new TypeError(`cannot send ${typeof value} as a frame`);
}

function jsonFrame(value) {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** The frames of one request. Throws TooLarge when it breaks a protocol limit,
 * so a request the server would refuse never leaves the process. */
function encodeRequest(requestId, verb, args = []) {
  const frames = [EMPTY, TAG, frame(requestId), Buffer.from(verb, 'ascii')];
  for (const a of args) frames.push(frame(a));
  if (frames.length > MAX_FRAMES) {
    throw new errors.TooLarge(`${verb}: ${frames.length} frames, limit ${MAX_FRAMES}`);
  }
  if (frames[2].length > MAX_REQUEST_ID_BYTES) {
    throw new errors.TooLarge(`request id over ${MAX_REQUEST_ID_BYTES} bytes`);
  }
  for (const f of frames) {
    if (f.length > MAX_FRAME_BYTES) {
      throw new errors.TooLarge(`${verb}: a frame of ${f.length} bytes, limit ${MAX_FRAME_BYTES}`);
    }
  }
  return frames;
}

/** The request id of reply frames (a string), or null when they are not SD1. */
function replyId(frames) {
  if (frames.length >= 3 && frames[0].length === 0 && frames[1].equals(TAG)) {
    return frames[2].toString('latin1');
  }
  return null;
}

/** The OK result frames of a reply; throws the SessiondError of an error
 * status, ProtocolError when the frames are not an SD1 reply. */
function splitReply(frames) {
  if (frames.length < 4 || frames[0].length !== 0 || !frames[1].equals(TAG)) {
    throw new errors.ProtocolError('not an SD1 reply');
  }
  const status = frames[3].toString('latin1');
  const results = frames.slice(4);
  if (status === 'OK') return results;
  const message = results.length ? results[0].toString('utf8') : '';
  let details = {};
  if (results.length > 1 && results[1].length) {
    try {
      const parsed = JSON.parse(results[1].toString('utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) details = parsed;
    } catch (_) {
      // Details are an addition; a server that sends bad ones still gave us
      // the error code, which is what the caller acts on.
    }
  }
  throw errors.errorFor(status, message, details);
}

function text(f) {
  return f.toString('utf8');
}

function json(f, verb) {
  try {
    return JSON.parse(f.toString('utf8'));
  } catch (e) {
    throw new errors.ProtocolError(`${verb}: a frame is not JSON: ${e.message}`);
  }
}

function need(results, count, verb) {
  if (results.length < count) {
    throw new errors.ProtocolError(
      `${verb} reply has ${results.length} result frames, expected ${count}`);
  }
}

const str = (v) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const int = (v) => (Number.isFinite(Number(v)) ? Math.trunc(Number(v)) : 0);

/** The session JSON of docs/protocol.md, in JavaScript names. `data` holds
 * strings exactly as stored; `raw` is the object as received (members this
 * client does not know included). */
function sessionFromJson(obj, verb = 'reply') {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new errors.ProtocolError(`${verb}: session JSON is not an object`);
  }
  const data = {};
  if (obj.data && typeof obj.data === 'object') {
    for (const [k, v] of Object.entries(obj.data)) data[k] = str(v);
  }
  const flash = Array.isArray(obj.flash)
    ? obj.flash.filter((f) => f && typeof f === 'object')
      .map((f) => ({ queue: str(f.queue), message: str(f.message) }))
    : [];
  return {
    id: str(obj.id),
    userId: str(obj.user_id),
    csrfToken: str(obj.csrf_token),
    data,
    flash,
    createdAt: int(obj.created_at),
    lastSeenAt: int(obj.last_seen_at),
    expiresAt: int(obj.expires_at),
    idleTimeout: int(obj.idle_timeout),
    authenticatedAt: int(obj.authenticated_at),
    ip: str(obj.ip),
    userAgent: str(obj.user_agent),
    version: int(obj.version),
    new: obj.new === true,
    current: obj.current === true,
    raw: obj,
  };
}

// Parsers: OK result frames -> typed value. Each throws ProtocolError when
// the frames do not have the documented shape.

function parseText(results, verb) {
  need(results, 1, verb);
  return text(results[0]);
}

function parseSession(results, verb) {
  need(results, 3, verb);
  return {
    cookie: text(results[0]),
    setCookie: text(results[1]),
    session: sessionFromJson(json(results[2], verb), verb),
  };
}

function parseFlash(results, verb) {
  const reply = parseSession(results, verb);
  need(results, 4, verb);
  const messages = json(results[3], verb);
  if (!Array.isArray(messages)) throw new errors.ProtocolError('FLASH messages are not a JSON array');
  return { reply, messages: messages.map(str) };
}

// IMPORT: {reply, report}; report.created is false when an earlier import
// of the same old cookie made this session.
function parseImport(results, verb) {
  const reply = parseSession(results, verb);
  need(results, 4, verb);
  const report = json(results[3], verb);
  if (!report || typeof report !== 'object' || Array.isArray(report)) {
    throw new errors.ProtocolError('IMPORT report is not a JSON object');
  }
  return { reply, report, created: report.created !== false };
}

// EXPORT: {cookie (the old framework's cookie value), report}.
function parseExport(results, verb) {
  need(results, 2, verb);
  const report = json(results[1], verb);
  if (!report || typeof report !== 'object' || Array.isArray(report)) {
    throw new errors.ProtocolError('EXPORT report is not a JSON object');
  }
  return { cookie: text(results[0]), report };
}

function parseLogout(results, verb) {
  need(results, 2, verb);
  return { setCookie: text(results[1]) };
}

function parseNothing() {
  return undefined;
}

function parseInteger(results, verb) {
  need(results, 1, verb);
  const s = text(results[0]);
  if (!/^-?\d+$/.test(s)) throw new errors.ProtocolError(`${verb}: not an integer: ${s}`);
  return Number(s);
}

// Server and hybrid mode: one integer frame. Client mode: a session reply
// re-issuing this browser's token (`ended` is then null: not known).
function parseRevokeOthers(results, verb) {
  if (results.length >= 3) return { ended: null, reply: parseSession(results, verb) };
  return { ended: parseInteger(results, verb), reply: null };
}

function parseSessionList(results, verb) {
  need(results, 1, verb);
  const items = json(results[0], verb);
  if (!Array.isArray(items)) throw new errors.ProtocolError(`${verb} result is not a JSON array`);
  return items.map((item) => sessionFromJson(item, verb));
}

function parseJsonObject(results, verb) {
  need(results, 1, verb);
  const obj = json(results[0], verb);
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new errors.ProtocolError(`${verb} result is not a JSON object`);
  }
  return obj;
}

/** DBSC_REGISTER and DBSC_REFRESH: the session with its new cookie, and
 * the binding object (dbsc_id, challenge, set_cookie, instructions,
 * bound_until; docs/dbsc.md). */
function parseDbsc(results, verb) {
  const reply = parseSession(results, verb);
  need(results, 4, verb);
  const binding = json(results[3], verb);
  if (!binding || typeof binding !== 'object' || Array.isArray(binding)) {
    throw new errors.ProtocolError(`${verb} binding is not a JSON object`);
  }
  return { reply, binding };
}

/** HELLO: what this deployment's cookie and limits are. */
function parseHello(results, verb) {
  const obj = parseJsonObject(results, verb);
  const c = obj.cookie && typeof obj.cookie === 'object' ? obj.cookie : {};
  return {
    protocol: str(obj.protocol),
    server: str(obj.server),
    mode: str(obj.mode),
    cookie: {
      name: str(c.name) || 'sessiond',
      path: str(c.path) || '/',
      domain: str(c.domain),
      secure: c.secure !== false,
      httpOnly: c.http_only !== false,
      sameSite: str(c.same_site),
      maxAge: int(c.max_age),
    },
    lifetime: int(obj.lifetime),
    idleTimeout: int(obj.idle_timeout),
    maxDataBytes: int(obj.max_data_bytes),
    raw: obj,
  };
}

/** The optional {"ip", "user_agent"} frame, or null when both are empty. */
function metadataFrame(ip, userAgent) {
  const meta = {};
  if (ip) meta.ip = String(ip);
  if (userAgent) meta.user_agent = String(userAgent);
  return Object.keys(meta).length ? jsonFrame(meta) : null;
}

module.exports = {
  TAG, MAX_FRAMES, MAX_FRAME_BYTES, MAX_REQUEST_ID_BYTES,
  encodeRequest, splitReply, replyId, jsonFrame, metadataFrame, sessionFromJson,
  parseText, parseSession, parseFlash, parseLogout, parseNothing, parseInteger,
  parseRevokeOthers, parseSessionList, parseJsonObject, parseHello, parseDbsc,
  parseImport, parseExport,
};
