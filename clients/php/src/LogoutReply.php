<?php
// LOGOUT: $setCookie is a Set-Cookie value that deletes the browser's cookie.

declare(strict_types=1);

namespace Sessiond;

final class LogoutReply
{
    public function __construct(public readonly string $setCookie)
    {
    }
}
