<?php
// UNKNOWN_KEY: signed with a key this server does not have.

declare(strict_types=1);

namespace Sessiond\Exception;

class UnknownKeyException extends InvalidCookieException
{
    public const ERROR_CODE = 'UNKNOWN_KEY';
}
