<?php
// UNKNOWN_VERB: the server does not know the verb (an older sessiond); do not retry.

declare(strict_types=1);

namespace Sessiond\Exception;

class UnknownVerbException extends CallerException
{
    public const ERROR_CODE = 'UNKNOWN_VERB';
}
