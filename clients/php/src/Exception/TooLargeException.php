<?php
// TOO_LARGE: a frame, the session data or the Set-Cookie line is over its cap; store less.

declare(strict_types=1);

namespace Sessiond\Exception;

class TooLargeException extends SessiondException
{
    public const ERROR_CODE = 'TOO_LARGE';
}
