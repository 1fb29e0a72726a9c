<?php
// BAD_ENCODING: the cookie is not base64url.

declare(strict_types=1);

namespace Sessiond\Exception;

class BadEncodingException extends InvalidCookieException
{
    public const ERROR_CODE = 'BAD_ENCODING';
}
