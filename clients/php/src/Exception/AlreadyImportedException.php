<?php
// ALREADY_IMPORTED: IMPORT of an old framework cookie that was imported before
// and whose session has ended; it makes no second session. Treat as anonymous
// and delete the old cookie.

declare(strict_types=1);

namespace Sessiond\Exception;

class AlreadyImportedException extends InvalidCookieException
{
    public const ERROR_CODE = 'ALREADY_IMPORTED';
}
