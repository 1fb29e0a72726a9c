<?php
// sessiond or its store cannot answer now; retry later with backoff, answer HTTP 503.

declare(strict_types=1);

namespace Sessiond\Exception;

class UnavailableException extends SessiondException
{
    public const ERROR_CODE = 'UNAVAILABLE';
}
