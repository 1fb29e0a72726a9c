<?php
// CSRF_MISMATCH: the presented CSRF token is not the session's; reject the request (HTTP 403).

declare(strict_types=1);

namespace Sessiond\Exception;

class CsrfMismatchException extends SessiondException
{
    public const ERROR_CODE = 'CSRF_MISMATCH';
}
