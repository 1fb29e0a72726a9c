<?php
// SESSION_LIMIT: LOGIN refused, the user is at the server's per-user session
// limit ([session] max_per_user, on_limit = "refuse"): ask them to sign out
// elsewhere first.

declare(strict_types=1);

namespace Sessiond\Exception;

class SessionLimitException extends CallerException
{
    public const ERROR_CODE = 'SESSION_LIMIT';
}
