<?php
// WRONG_PURPOSE: a token made for another purpose was presented as a session cookie.

declare(strict_types=1);

namespace Sessiond\Exception;

class WrongPurposeException extends InvalidCookieException
{
    public const ERROR_CODE = 'WRONG_PURPOSE';
}
