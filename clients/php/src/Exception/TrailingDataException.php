<?php
// TRAILING_DATA: the cookie is longer than its header says.

declare(strict_types=1);

namespace Sessiond\Exception;

class TrailingDataException extends InvalidCookieException
{
    public const ERROR_CODE = 'TRAILING_DATA';
}
