<?php
// REVOKED: the session was logged out or revoked, or the user's epoch moved.
// The details may say why ({"reason": R, "at": unix_seconds}), so a page can
// tell the user ("you were signed out because your password changed").

declare(strict_types=1);

namespace Sessiond\Exception;

class RevokedException extends InvalidCookieException
{
    public const ERROR_CODE = 'REVOKED';

    /** The documented reasons (docs/protocol.md); others may come from newer servers. */
    public const REASONS = ['logout', 'login', 'signed_out_elsewhere', 'password_changed',
                            'admin', 'session_limit', 'reuse_detected', 'device_binding'];

    /** The reason the server gave ("password_changed", ...), or "" when it gave none. */
    public function reason(): string
    {
        $reason = $this->getDetails()['reason'] ?? '';
        return is_string($reason) ? $reason : '';
    }

    /** When it was revoked (Unix seconds), or 0 when the server did not say. */
    public function revokedAt(): int
    {
        $at = $this->getDetails()['at'] ?? 0;
        return is_int($at) ? $at : (is_numeric($at) ? (int) $at : 0);
    }
}
