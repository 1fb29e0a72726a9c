<?php
// PERMISSION_DENIED: an admin verb sent to the app socket; use the admin socket.

declare(strict_types=1);

namespace Sessiond\Exception;

class PermissionDeniedException extends CallerException
{
    public const ERROR_CODE = 'PERMISSION_DENIED';
}
