<?php
// Client side: no reply within the timeout (sessiond down, overloaded or unreachable); the request may or may not have been applied.

declare(strict_types=1);

namespace Sessiond\Exception;

class TimeoutException extends UnavailableException
{
    public const ERROR_CODE = 'TIMEOUT';
}
