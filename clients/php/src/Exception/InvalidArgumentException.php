<?php
// INVALID_ARGUMENT: a malformed request (bad user id, data key, JSON); do not retry.

declare(strict_types=1);

namespace Sessiond\Exception;

class InvalidArgumentException extends CallerException
{
    public const ERROR_CODE = 'INVALID_ARGUMENT';
}
