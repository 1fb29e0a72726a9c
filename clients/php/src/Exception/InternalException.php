<?php
// INTERNAL: a bug in sessiond, logged on the server (HTTP 500).

declare(strict_types=1);

namespace Sessiond\Exception;

class InternalException extends SessiondException
{
    public const ERROR_CODE = 'INTERNAL';
}
