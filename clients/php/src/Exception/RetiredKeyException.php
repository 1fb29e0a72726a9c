<?php
// RETIRED_KEY: signed with a key retired since.

declare(strict_types=1);

namespace Sessiond\Exception;

class RetiredKeyException extends InvalidCookieException
{
    public const ERROR_CODE = 'RETIRED_KEY';
}
