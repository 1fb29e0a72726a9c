# frozen_string_literal: true

# The exceptions of the sessiond client, one class per wire error code,
# grouped by what the caller should do (the same groups and names as
# clients/python/sessiond/errors.py, in Ruby's style). docs/protocol.md
# lists every code with its advice.
#
#   Sessiond::Error               any failure (#code, #message, #details)
#     CallerError                 a bug in the caller: do not retry
#       InvalidArgument           INVALID_ARGUMENT
#         LoginRequired           a helper that needs a user, called while anonymous
#                                 (client side; code LOGIN_REQUIRED; HTTP 401)
#       UnknownVerb               UNKNOWN_VERB
#       PermissionDenied          PERMISSION_DENIED (admin verb on the app socket)
#       SessionLimit              SESSION_LIMIT (LOGIN over max_per_user)
#     TooLarge                    TOO_LARGE: store less
#     Conflict                    CONFLICT: reload and re-apply, or tell the user
#     CsrfMismatch                CSRF_MISMATCH: reject the request (HTTP 403)
#     InvalidCookie               the cookie is no (longer a) session: treat as anonymous
#       NotFound, Revoked, Expired, BadEncoding, Truncated, TrailingData,
#       UnknownVersion, UnknownKey, RetiredKey, BadMac, NotYetValid, Corrupt,
#       WrongPurpose, AlreadyImported
#     Unavailable                 retry later; answer HTTP 503 meanwhile
#       ShuttingDown              SHUTTING_DOWN
#       Timeout                   no reply in time (client side)
#       TransportError            a ZeroMQ failure (client side; code UNAVAILABLE)
#       CircuitOpen               failing fast while sessiond is unreachable (client side)
#     Internal                    INTERNAL: a server bug; answer HTTP 500
#     ProtocolError               a reply that does not follow SD1 (client side)
#
# An error code this client does not know becomes a plain Sessiond::Error
# whose #code is the code as received, so newer servers stay usable.

module Sessiond
  # Base of every error raised by this library.
  #
  # code:    the wire error code ("NOT_FOUND"), or a client-side name
  #          ("TIMEOUT", "CIRCUIT_OPEN", "PROTOCOL", "LOGIN_REQUIRED") for
  #          errors that never crossed the wire.
  # message: the server's human-readable text; for logs only.
  # details: the JSON object of an error reply's frame 5 ({} when absent),
  #          e.g. {"reason" => "logout", "at" => 1764190000} on REVOKED.
  class Error < StandardError
    CODE = "UNKNOWN"

    attr_reader :code, :details

    def initialize(message = "", code: nil, details: nil)
      @code = code || self.class::CODE
      @details = details || {}
      @text = message.to_s
      super(@text.empty? ? @code : "#{@code}: #{@text}")
    end

    # The server's message alone (without the code).
    def text
      @text
    end
  end

  # The request was wrong; retrying it cannot help. Fix the caller.
  class CallerError < Error; end

  class InvalidArgument < CallerError
    CODE = "INVALID_ARGUMENT"
  end

  # Raised by the helpers (never by the server), before any I/O, when a
  # helper that acts for the logged-in user (devices, sign out other
  # locations, password changed) is called on an anonymous session. The
  # integrations answer HTTP 401.
  class LoginRequired < InvalidArgument
    CODE = "LOGIN_REQUIRED"
  end

  class UnknownVerb < CallerError
    CODE = "UNKNOWN_VERB"
  end

  class PermissionDenied < CallerError
    CODE = "PERMISSION_DENIED"
  end

  # LOGIN refused: the user is at the server's per-user session limit
  # ([session] max_per_user, on_limit = "refuse").
  class SessionLimit < CallerError
    CODE = "SESSION_LIMIT"
  end

  # A frame, the session data or the Set-Cookie line is over its cap.
  class TooLarge < Error
    CODE = "TOO_LARGE"
  end

  # A key of the change set changed since base_version; nothing applied.
  class Conflict < Error
    CODE = "CONFLICT"
  end

  # The presented CSRF token is not the session's. Answer HTTP 403.
  class CsrfMismatch < Error
    CODE = "CSRF_MISMATCH"
  end

  # The cookie does not name a live session: treat the request as anonymous
  # and start a new session (CREATE).
  class InvalidCookie < Error; end

  class NotFound < InvalidCookie
    CODE = "NOT_FOUND"
  end

  # The session was logged out or revoked, or the user's epoch moved.
  # #reason and #revoked_at come from the reply's details when the server
  # says ("logout", "login", "signed_out_elsewhere", "password_changed",
  # "admin", "session_limit", "reuse_detected", "device_binding").
  class Revoked < InvalidCookie
    CODE = "REVOKED"

    def reason
      details["reason"]&.to_s
    end

    def revoked_at
      at = details["at"]
      at.is_a?(Numeric) ? at.to_i : nil
    end
  end

  class Expired < InvalidCookie
    CODE = "EXPIRED"
  end

  class BadEncoding < InvalidCookie
    CODE = "BAD_ENCODING"
  end

  class Truncated < InvalidCookie
    CODE = "TRUNCATED"
  end

  class TrailingData < InvalidCookie
    CODE = "TRAILING_DATA"
  end

  class UnknownVersion < InvalidCookie
    CODE = "UNKNOWN_VERSION"
  end

  class UnknownKey < InvalidCookie
    CODE = "UNKNOWN_KEY"
  end

  class RetiredKey < InvalidCookie
    CODE = "RETIRED_KEY"
  end

  # Tampered or forged cookie; worth logging on the app side.
  class BadMac < InvalidCookie
    CODE = "BAD_MAC"
  end

  class NotYetValid < InvalidCookie
    CODE = "NOT_YET_VALID"
  end

  class Corrupt < InvalidCookie
    CODE = "CORRUPT"
  end

  # A cookie made for another purpose (e.g. a device-binding token).
  class WrongPurpose < InvalidCookie
    CODE = "WRONG_PURPOSE"
  end

  # IMPORT: this old framework cookie was imported before and the session it
  # became has ended; it makes no second session. Treat as anonymous and
  # delete the old cookie.
  class AlreadyImported < InvalidCookie
    CODE = "ALREADY_IMPORTED"
  end

  # sessiond or its store cannot answer now; nothing was changed that the
  # caller can rely on. Retry later with backoff; answer HTTP 503.
  class Unavailable < Error
    CODE = "UNAVAILABLE"
  end

  class ShuttingDown < Unavailable
    CODE = "SHUTTING_DOWN"
  end

  # No reply within the client's timeout (sessiond down, overloaded or
  # unreachable). The request may or may not have been applied.
  class Timeout < Unavailable
    CODE = "TIMEOUT"
  end

  # A ZeroMQ failure on the client's side (no reply): like a Timeout, it
  # opens the circuit breaker. Its code is UNAVAILABLE.
  class TransportError < Unavailable; end

  # Raised at once, without I/O, while the client's circuit breaker is open
  # (a recent call timed out or hit a transport error). Nothing was sent.
  class CircuitOpen < Unavailable
    CODE = "CIRCUIT_OPEN"
  end

  # A bug in sessiond, logged on the server. Answer HTTP 500.
  class Internal < Error
    CODE = "INTERNAL"
  end

  # A reply that does not follow SD1 (wrong tag, too few frames, bad JSON).
  # Raised by the client, never sent by the server.
  class ProtocolError < Error
    CODE = "PROTOCOL"
  end

  # Wire code -> class. Every code of docs/protocol.md appears exactly once.
  ERROR_CLASSES = [
    InvalidArgument, UnknownVerb, PermissionDenied, SessionLimit, TooLarge,
    Conflict, CsrfMismatch, NotFound, Revoked, Expired, BadEncoding, Truncated,
    TrailingData, UnknownVersion, UnknownKey, RetiredKey, BadMac,
    NotYetValid, Corrupt, WrongPurpose, AlreadyImported, Unavailable, ShuttingDown,
    Internal
  ].to_h { |cls| [cls::CODE, cls] }.freeze

  WIRE_CODES = ERROR_CLASSES.keys.freeze

  # The exception for a wire error code; an unknown code yields a
  # Sessiond::Error carrying that code.
  def self.error_for(code, message = "", details = nil)
    cls = ERROR_CLASSES[code]
    return Error.new(message, code: code, details: details) if cls.nil?

    cls.new(message, details: details)
  end

  # A configuration that cannot work (e.g. the app names a cookie and
  # sessiond's HELLO names another). Raised at boot or on the first request;
  # never rescued by the integrations.
  class ConfigurationError < StandardError; end
end
