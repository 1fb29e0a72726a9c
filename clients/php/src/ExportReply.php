<?php
// EXPORT: the session as the old framework's cookie value (ready for
// Set-Cookie), and the report (format, user_id, expires_at, unmapped).

declare(strict_types=1);

namespace Sessiond;

final class ExportReply
{
    /** @param array<string, mixed> $report */
    public function __construct(public readonly string $cookie, public readonly array $report)
    {
    }
}
