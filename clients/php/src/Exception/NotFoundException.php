<?php
// NOT_FOUND: no such session (never existed, or expired and removed).

declare(strict_types=1);

namespace Sessiond\Exception;

class NotFoundException extends InvalidCookieException
{
    public const ERROR_CODE = 'NOT_FOUND';
}
