<?php
// The base of every exception this package throws, and the one place that
// turns a wire error code into its class. The classes are grouped by what
// the caller should do (as clients/python/sessiond/errors.py):
//
//   SessiondException                any failure (getErrorCode(), getDetails())
//     CallerException                a bug or misconfiguration of the caller: do not retry
//       InvalidArgumentException     INVALID_ARGUMENT
//         LoginRequiredException     LOGIN_REQUIRED (client side: a helper needs a user; HTTP 401)
//       UnknownVerbException         UNKNOWN_VERB
//       PermissionDeniedException    PERMISSION_DENIED (admin verb, app socket)
//       ConfigurationException       CONFIGURATION (client side: e.g. cookie name mismatch)
//     TooLargeException              TOO_LARGE: store less
//     ConflictException              CONFLICT: reload and re-apply, or tell the user (HTTP 409)
//     CsrfMismatchException          CSRF_MISMATCH: reject the request (HTTP 403)
//     InvalidCookieException         the cookie is no (longer a) session: treat as anonymous
//       NotFound, Revoked, Expired, BadEncoding, Truncated, TrailingData, UnknownVersion,
//       UnknownKey, RetiredKey, BadMac, NotYetValid, Corrupt, WrongPurpose (+Exception)
//     UnavailableException           retry later; answer HTTP 503 meanwhile
//       ShuttingDownException        SHUTTING_DOWN
//       TimeoutException             TIMEOUT (client side: no reply in time)
//       CircuitOpenException         CIRCUIT_OPEN (client side: failing fast while sessiond is down)
//     InternalException              INTERNAL: a server bug; HTTP 500
//     ProtocolException              PROTOCOL (client side: a reply that breaks SD1)
//
// A code this package does not know becomes a plain SessiondException that
// carries the code, so newer servers stay usable.

declare(strict_types=1);

namespace Sessiond\Exception;

class SessiondException extends \RuntimeException
{
    /** The wire code of this class; subclasses override it. */
    public const ERROR_CODE = 'UNKNOWN';

    /** Wire code => class, every code of docs/protocol.md exactly once. */
    private const BY_CODE = [
        'INVALID_ARGUMENT' => InvalidArgumentException::class,
        'UNKNOWN_VERB' => UnknownVerbException::class,
        'PERMISSION_DENIED' => PermissionDeniedException::class,
        'TOO_LARGE' => TooLargeException::class,
        'CONFLICT' => ConflictException::class,
        'CSRF_MISMATCH' => CsrfMismatchException::class,
        'NOT_FOUND' => NotFoundException::class,
        'REVOKED' => RevokedException::class,
        'EXPIRED' => ExpiredException::class,
        'BAD_ENCODING' => BadEncodingException::class,
        'TRUNCATED' => TruncatedException::class,
        'TRAILING_DATA' => TrailingDataException::class,
        'UNKNOWN_VERSION' => UnknownVersionException::class,
        'UNKNOWN_KEY' => UnknownKeyException::class,
        'RETIRED_KEY' => RetiredKeyException::class,
        'BAD_MAC' => BadMacException::class,
        'NOT_YET_VALID' => NotYetValidException::class,
        'CORRUPT' => CorruptException::class,
        'WRONG_PURPOSE' => WrongPurposeException::class,
        'UNAVAILABLE' => UnavailableException::class,
        'SHUTTING_DOWN' => ShuttingDownException::class,
        'INTERNAL' => InternalException::class,
    ];

    private string $errorCode;
    private string $serverMessage;
    /** @var array<string, mixed> */
    private array $details;

    /**
     * @param string $message the server's human-readable message (for logs only)
     * @param string|null $errorCode the wire code; null means the class's own
     * @param array<string, mixed> $details the error reply's details object (frame 5), if any
     */
    public function __construct(string $message = '', ?string $errorCode = null,
                                array $details = [], ?\Throwable $previous = null)
    {
        $this->errorCode = $errorCode ?? static::ERROR_CODE;
        $this->serverMessage = $message;
        $this->details = $details;
        parent::__construct($message === '' ? $this->errorCode
                                            : $this->errorCode . ': ' . $message, 0, $previous);
    }

    /** The wire code ("NOT_FOUND"), or a client-side name ("TIMEOUT", "PROTOCOL", "CIRCUIT_OPEN"). */
    public function getErrorCode(): string
    {
        return $this->errorCode;
    }

    /** The server's message without the code; for logs, never parse it. */
    public function getServerMessage(): string
    {
        return $this->serverMessage;
    }

    /** @return array<string, mixed> the details object of the error reply ([] when none) */
    public function getDetails(): array
    {
        return $this->details;
    }

    /** The exception for a wire error code (unknown codes: a SessiondException carrying it). */
    public static function fromWire(string $code, string $message = '', array $details = []): self
    {
        $class = self::BY_CODE[$code] ?? null;
        if ($class === null) {
            return new self($message, $code, $details);
        }
        return new $class($message, null, $details);
    }

    /** @return list<string> every wire code this package knows */
    public static function wireCodes(): array
    {
        return array_keys(self::BY_CODE);
    }
}
