<?php
// CORRUPT: the stored record failed to decode (logged on the server).

declare(strict_types=1);

namespace Sessiond\Exception;

class CorruptException extends InvalidCookieException
{
    public const ERROR_CODE = 'CORRUPT';
}
