<?php
// The HTTP mapping every integration shares (plan: "HTTP mapping"):
//   Unavailable (Timeout, CircuitOpen, ShuttingDown included)
//                  -> 503, Retry-After: 5, Cache-Control: no-store
//   Conflict       -> 409 (the session changed under this request)
//   TooLarge       -> 500 with a clear message (and a log line by the caller)
//   CsrfMismatch   -> 403
//   LoginRequired    -> 401 (a helper that needs a user, called while anonymous)
//   anything else of this package -> 500
// An invalid or revoked cookie never gets here: it is a fresh anonymous
// session. Session::register() installs respond() as the exception handler
// (for errors when the session is first touched); SessionHandler calls it
// for errors of the final commit. An app customises the page with the
// "error_page" option, or calls respond() from its own exception handler.

declare(strict_types=1);

namespace Sessiond;

use Sessiond\Exception\ConflictException;
use Sessiond\Exception\CsrfMismatchException;
use Sessiond\Exception\LoginRequiredException;
use Sessiond\Exception\SessiondException;
use Sessiond\Exception\TooLargeException;
use Sessiond\Exception\UnavailableException;

final class Http
{
    /** The SessiondException in $e or in its chain of previous exceptions (PHP wraps errors of save handlers). */
    public static function sessiondError(\Throwable $e): ?SessiondException
    {
        for ($t = $e; $t !== null; $t = $t->getPrevious()) {
            if ($t instanceof SessiondException) {
                return $t;
            }
        }
        return null;
    }

    /** The HTTP status for $e, or null when it is not a sessiond error. */
    public static function statusFor(\Throwable $e): ?int
    {
        $error = self::sessiondError($e);
        return match (true) {
            $error === null => null,
            $error instanceof UnavailableException => 503,
            $error instanceof ConflictException => 409,
            $error instanceof CsrfMismatchException => 403,
            $error instanceof LoginRequiredException => 401,
            default => 500,
        };
    }

    /**
     * Answers the request with the error page for $e: drops what the page
     * had buffered and every header it set (a redirect must not survive),
     * keeps the session cookie of verbs already done ($setCookie), sets the
     * status and headers, and renders the body ($page(int $status,
     * SessiondException $e), or a small HTML page). False when $e is not a
     * sessiond error or the response has already been sent.
     */
    public static function respond(\Throwable $e, ?callable $page = null, ?string $setCookie = null): bool
    {
        $error = self::sessiondError($e);
        $status = self::statusFor($e);
        if ($error === null || $status === null || headers_sent()) {
            return false;
        }
        while (ob_get_level() > 0 && @ob_end_clean()) {
            // discard the page that was being built
        }
        header_remove();
        http_response_code($status);
        header('Cache-Control: no-store');
        if ($error instanceof UnavailableException) {
            header('Retry-After: 5');
        }
        if ($setCookie !== null && $setCookie !== '') {
            header('Set-Cookie: ' . $setCookie, false);
        }
        if ($page !== null) {
            $page($status, $error);
            return true;
        }
        header('Content-Type: text/html; charset=utf-8');
        echo self::defaultPage($status, $error);
        return true;
    }

    public static function defaultPage(int $status, SessiondException $e): string
    {
        [$title, $text] = match (true) {
            $e instanceof UnavailableException => ['Service Unavailable',
                'The session service is not reachable right now. Please try again in a moment.'],
            $e instanceof ConflictException => ['Conflict',
                'Your session was changed by another request at the same time. Please reload and try again.'],
            $e instanceof CsrfMismatchException => ['Forbidden',
                'The form has expired or did not come from this site. Please reload the page and try again.'],
            $e instanceof LoginRequiredException => ['Unauthorized', 'Please sign in first.'],
            $e instanceof TooLargeException => ['Internal Server Error',
                'The session has grown over its size limit; the last change was not saved.'],
            default => ['Internal Server Error', 'The session could not be saved.'],
        };
        return "<!doctype html><title>$title</title><h1>$status $title</h1><p>$text</p>\n";
    }
}
