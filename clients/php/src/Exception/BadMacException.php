<?php
// BAD_MAC: tampered or forged; worth logging on the app side.

declare(strict_types=1);

namespace Sessiond\Exception;

class BadMacException extends InvalidCookieException
{
    public const ERROR_CODE = 'BAD_MAC';
}
