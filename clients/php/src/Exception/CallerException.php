<?php
// The request was wrong; retrying it cannot help. Fix the caller.

declare(strict_types=1);

namespace Sessiond\Exception;

class CallerException extends SessiondException
{
    public const ERROR_CODE = 'CALLER';
}
