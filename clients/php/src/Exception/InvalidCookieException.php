<?php
// The cookie does not name a live session: treat the request as anonymous (a new session).

declare(strict_types=1);

namespace Sessiond\Exception;

class InvalidCookieException extends SessiondException
{
    public const ERROR_CODE = 'INVALID_COOKIE';
}
