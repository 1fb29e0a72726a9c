<?php
// SHUTTING_DOWN: sessiond is stopping; retry later or elsewhere.

declare(strict_types=1);

namespace Sessiond\Exception;

class ShuttingDownException extends UnavailableException
{
    public const ERROR_CODE = 'SHUTTING_DOWN';
}
