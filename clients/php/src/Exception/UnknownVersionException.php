<?php
// UNKNOWN_VERSION: a token format (or storage mode) this server does not speak.

declare(strict_types=1);

namespace Sessiond\Exception;

class UnknownVersionException extends InvalidCookieException
{
    public const ERROR_CODE = 'UNKNOWN_VERSION';
}
