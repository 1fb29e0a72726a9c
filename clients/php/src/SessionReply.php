<?php
// The reply of every verb that returns a session: the cookie value the
// browser must hold from now on, the Set-Cookie header value to send (""
// when the browser's cookie is already right) and the session.

declare(strict_types=1);

namespace Sessiond;

final class SessionReply
{
    public function __construct(
        public readonly string $cookie,
        public readonly string $setCookie,
        public readonly SessionInfo $session,
    ) {
    }
}
