<?php
// IMPORT: the session an old framework cookie became, and the report (format,
// user_id, legacy, old_expires_at, renamed, unmapped, created: false when an
// earlier import of the same cookie made this session).

declare(strict_types=1);

namespace Sessiond;

final class ImportReply
{
    /** @param array<string, mixed> $report */
    public function __construct(public readonly SessionReply $reply, public readonly array $report)
    {
    }

    public function created(): bool
    {
        return ($this->report['created'] ?? true) !== false;
    }
}
