<?php
// AdminClient: a Client for the admin socket (an ipc:// path, or CURVE
// tcp://). It answers every app verb and, in addition, the verbs only the
// admin socket answers (the app socket says PERMISSION_DENIED to them).

declare(strict_types=1);

namespace Sessiond;

class AdminClient extends Client
{
    /** @return list<SessionInfo> USER_LIST: the user's sessions */
    public function userList(string $userId): array
    {
        return Protocol::parseSessionList($this->call('USER_LIST', $userId), 'USER_LIST');
    }

    /** USER_REVOKE: ends all of the user's sessions and bumps the epoch -> how many ended. */
    public function userRevoke(string $userId): int
    {
        return Protocol::parseInteger($this->call('USER_REVOKE', $userId), 'USER_REVOKE');
    }

    /** USER_REVOKE_OTHERS: ends all but one session of the user -> how many ended. */
    public function userRevokeOthers(string $userId, string $keepSessionId): int
    {
        return Protocol::parseInteger($this->call('USER_REVOKE_OTHERS', $userId, $keepSessionId), 'USER_REVOKE_OTHERS');
    }

    /** SESSION_REVOKE: ends one session by id. */
    public function sessionRevoke(string $sessionId): void
    {
        $this->call('SESSION_REVOKE', $sessionId);
    }

    /** KEYS_ROTATE -> the new key id; older keys retire after $retireAfter seconds (default: the session lifetime). */
    public function keysRotate(?int $retireAfter = null): int
    {
        $frames = $retireAfter === null ? $this->call('KEYS_ROTATE') : $this->call('KEYS_ROTATE', $retireAfter);
        return Protocol::parseInteger($frames, 'KEYS_ROTATE');
    }

    /** @return array<string, mixed> STATS: the server's counters */
    public function stats(): array
    {
        return Protocol::parseJsonObject($this->call('STATS'), 'STATS');
    }

    /** @return array<string, mixed> IMPORT_CHECK: what IMPORT would make of an old cookie; creates nothing */
    public function importCheck(string $format, string $cookie): array
    {
        return Protocol::parseJsonObject($this->call('IMPORT_CHECK', $format, $cookie), 'IMPORT_CHECK');
    }
}
