<?php
// NOT_YET_VALID: issued in the future (clock skew); check the clocks.

declare(strict_types=1);

namespace Sessiond\Exception;

class NotYetValidException extends InvalidCookieException
{
    public const ERROR_CODE = 'NOT_YET_VALID';
}
