<?php
// REVOKE_OTHERS: how many other sessions ended (null when the server does
// not say, as in client mode) and, in client mode, this browser's re-issued
// session (null in server and hybrid mode).

declare(strict_types=1);

namespace Sessiond;

final class RevokeOthersReply
{
    public function __construct(public readonly ?int $ended, public readonly ?SessionReply $reply = null)
    {
    }
}
