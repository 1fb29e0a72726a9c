<?php
// Client side: a reply that does not follow SD1 (wrong tag, too few frames, bad JSON).

declare(strict_types=1);

namespace Sessiond\Exception;

class ProtocolException extends SessiondException
{
    public const ERROR_CODE = 'PROTOCOL';
}
