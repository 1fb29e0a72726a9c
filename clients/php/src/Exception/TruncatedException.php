<?php
// TRUNCATED: the cookie is shorter than its header says.

declare(strict_types=1);

namespace Sessiond\Exception;

class TruncatedException extends InvalidCookieException
{
    public const ERROR_CODE = 'TRUNCATED';
}
