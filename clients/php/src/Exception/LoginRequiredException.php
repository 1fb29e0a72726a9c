<?php
// Client side: a helper that needs a logged-in user was called while anonymous (HTTP 401).

declare(strict_types=1);

namespace Sessiond\Exception;

class LoginRequiredException extends InvalidArgumentException
{
    public const ERROR_CODE = 'LOGIN_REQUIRED';
}
