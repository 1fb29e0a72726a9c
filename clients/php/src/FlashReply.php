<?php
// FLASH: the session after the pop, and the popped messages, oldest first.

declare(strict_types=1);

namespace Sessiond;

final class FlashReply
{
    /** @param list<string> $messages */
    public function __construct(public readonly SessionReply $reply, public readonly array $messages)
    {
    }
}
