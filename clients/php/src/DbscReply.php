<?php
// DBSC_REGISTER and DBSC_REFRESH (docs/dbsc.md): $reply is the session with
// its new cookie; $binding the binding's JSON object ("dbsc_id",
// "challenge", "set_cookie", "instructions", "bound_until").

declare(strict_types=1);

namespace Sessiond;

final class DbscReply
{
    /** @param array<string, mixed> $binding */
    public function __construct(public readonly SessionReply $reply, public readonly array $binding)
    {
    }
}
