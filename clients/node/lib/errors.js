// The errors of the sessiond client, one class per wire error code, grouped
// by what the caller should do (the same groups and codes as
// clients/python/sessiond/errors.py; docs/protocol.md lists every code):
//
//   SessiondError                 any failure (.code, .message, .details)
//     CallerError                 a bug in the caller: do not retry
//       InvalidArgument           INVALID_ARGUMENT
//         LoginRequired           LOGIN_REQUIRED (client side: a helper that
//                                 needs a user, called while anonymous; 401)
//       UnknownVerb               UNKNOWN_VERB
//       PermissionDenied          PERMISSION_DENIED (admin verb, app socket)
//     TooLarge                    TOO_LARGE: store less
//     Conflict                    CONFLICT: reload and re-apply, or tell the user
//     CsrfMismatch                CSRF_MISMATCH: reject the request (HTTP 403)
//     InvalidCookie               the cookie is no (longer a) session: CREATE
//       NotFound, Revoked, Expired, BadEncoding, Truncated, TrailingData,
//       UnknownVersion, UnknownKey, RetiredKey, BadMac, NotYetValid, Corrupt,
//       WrongPurpose
//     Unavailable                 retry later; answer HTTP 503 meanwhile
//       ShuttingDown              SHUTTING_DOWN
//       Timeout                   no reply in time (client side)
//       CircuitOpen               failing fast while sessiond is down (client side)
//     Internal                    INTERNAL: a server bug; answer HTTP 500
//     ProtocolError               a reply that does not follow SD1 (client side)
//
// An error code this client does not know becomes a plain SessiondError whose
// .code is the code as received, so newer servers stay usable.
'use strict';

class SessiondError extends Error {
  /**
   * @param {string} [message] the server's human-readable message (for logs)
   * @param {object} [options] {code, details}: details is the JSON object of
   *   an error reply's frame 5 (e.g. REVOKED's {reason, at}), else {}
   */
  constructor(message = '', options = {}) {
    const code = options.code || new.target.code || 'UNKNOWN';
    super(message ? `${code}: ${message}` : code);
    this.name = new.target.name;
    this.code = code;
    this.serverMessage = message;
    this.details = options.details || {};
  }
}
SessiondError.code = 'UNKNOWN';

function define(name, base, code, doc) {
  // A named subclass per code; `code` is static so error_for can map it.
  const cls = {
    [name]: class extends base {},
  }[name];
  if (code) cls.code = code;
  cls.doc = doc;
  return cls;
}

const CallerError = define('CallerError', SessiondError, null,
  'The request was wrong; retrying it cannot help. Fix the caller.');
const InvalidArgument = define('InvalidArgument', CallerError, 'INVALID_ARGUMENT');
const UnknownVerb = define('UnknownVerb', CallerError, 'UNKNOWN_VERB');
const PermissionDenied = define('PermissionDenied', CallerError, 'PERMISSION_DENIED');
const LoginRequired = define('LoginRequired', InvalidArgument, 'LOGIN_REQUIRED',
  'A helper that needs a logged-in user was called on an anonymous session.');

const TooLarge = define('TooLarge', SessiondError, 'TOO_LARGE');
const Conflict = define('Conflict', SessiondError, 'CONFLICT');
const CsrfMismatch = define('CsrfMismatch', SessiondError, 'CSRF_MISMATCH');

const InvalidCookie = define('InvalidCookie', SessiondError, null,
  'The cookie names no live session: treat the request as anonymous.');
const NotFound = define('NotFound', InvalidCookie, 'NOT_FOUND');
const Revoked = define('Revoked', InvalidCookie, 'REVOKED');
const Expired = define('Expired', InvalidCookie, 'EXPIRED');
const BadEncoding = define('BadEncoding', InvalidCookie, 'BAD_ENCODING');
const Truncated = define('Truncated', InvalidCookie, 'TRUNCATED');
const TrailingData = define('TrailingData', InvalidCookie, 'TRAILING_DATA');
const UnknownVersion = define('UnknownVersion', InvalidCookie, 'UNKNOWN_VERSION');
const UnknownKey = define('UnknownKey', InvalidCookie, 'UNKNOWN_KEY');
const RetiredKey = define('RetiredKey', InvalidCookie, 'RETIRED_KEY');
const BadMac = define('BadMac', InvalidCookie, 'BAD_MAC');
const NotYetValid = define('NotYetValid', InvalidCookie, 'NOT_YET_VALID');
const Corrupt = define('Corrupt', InvalidCookie, 'CORRUPT');
const WrongPurpose = define('WrongPurpose', InvalidCookie, 'WRONG_PURPOSE');

const Unavailable = define('Unavailable', SessiondError, 'UNAVAILABLE',
  'sessiond or its store cannot answer now. Retry later; answer HTTP 503.');
const ShuttingDown = define('ShuttingDown', Unavailable, 'SHUTTING_DOWN');
const Timeout = define('Timeout', Unavailable, 'TIMEOUT',
  'No reply in time; the request may or may not have been applied.');
const CircuitOpen = define('CircuitOpen', Unavailable, 'CIRCUIT_OPEN',
  'Failed at once, without I/O: sessiond failed recently and is being probed.');

const Internal = define('Internal', SessiondError, 'INTERNAL');
const ProtocolError = define('ProtocolError', SessiondError, 'PROTOCOL');

// REVOKED's details.reason, when the server says why (ROUND.md).
Object.defineProperty(Revoked.prototype, 'reason', {
  get() { return typeof this.details.reason === 'string' ? this.details.reason : ''; },
});
Object.defineProperty(Revoked.prototype, 'at', {
  get() { return Number.isInteger(this.details.at) ? this.details.at : 0; },
});

// Wire code -> class: every code of docs/protocol.md exactly once.
const BY_CODE = new Map([
  InvalidArgument, UnknownVerb, PermissionDenied, TooLarge, Conflict,
  CsrfMismatch, NotFound, Revoked, Expired, BadEncoding, Truncated,
  TrailingData, UnknownVersion, UnknownKey, RetiredKey, BadMac, NotYetValid,
  Corrupt, WrongPurpose, Unavailable, ShuttingDown, Internal,
].map((cls) => [cls.code, cls]));

/** The error for a wire error code; an unknown code gives a SessiondError
 * carrying that code. */
function errorFor(code, message = '', details = {}) {
  const Cls = BY_CODE.get(code);
  if (!Cls) return new SessiondError(message, { code, details });
  return new Cls(message, { details });
}

module.exports = {
  SessiondError, CallerError, InvalidArgument, UnknownVerb, PermissionDenied,
  LoginRequired, TooLarge, Conflict, CsrfMismatch, InvalidCookie, NotFound,
  Revoked, Expired, BadEncoding, Truncated, TrailingData, UnknownVersion,
  UnknownKey, RetiredKey, BadMac, NotYetValid, Corrupt, WrongPurpose,
  Unavailable, ShuttingDown, Timeout, CircuitOpen, Internal, ProtocolError,
  WIRE_CODES: Object.freeze([...BY_CODE.keys()]),
  errorFor,
};
