<?php
// Client side: a helper that needs a logged-in user was called while anonymous (HTTP 401).

declare(strict_types=1);

namespace Sessiond\Exception;

class NotLoggedInException extends CallerException
{
    public const ERROR_CODE = 'NOT_LOGGED_IN';
}
