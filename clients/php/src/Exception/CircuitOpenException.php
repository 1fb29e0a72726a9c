<?php
// Client side: failing fast without I/O while sessiond is down (the circuit breaker is open).

declare(strict_types=1);

namespace Sessiond\Exception;

class CircuitOpenException extends UnavailableException
{
    public const ERROR_CODE = 'CIRCUIT_OPEN';
}
