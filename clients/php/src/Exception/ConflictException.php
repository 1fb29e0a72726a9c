<?php
// CONFLICT: a key of the change set changed since base_version; nothing applied (HTTP 409).

declare(strict_types=1);

namespace Sessiond\Exception;

class ConflictException extends SessiondException
{
    public const ERROR_CODE = 'CONFLICT';
}
