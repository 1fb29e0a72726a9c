<?php
// EXPIRED: past the absolute or idle expiry.

declare(strict_types=1);

namespace Sessiond\Exception;

class ExpiredException extends InvalidCookieException
{
    public const ERROR_CODE = 'EXPIRED';
}
