<?php
// The session JSON of docs/protocol.md as a read-only value. Lists
// (LIST_SESSIONS, USER_LIST) leave data, flash and csrfToken empty and set
// current. $raw keeps the object as received, members this client does not
// know included (newer servers add members; clients ignore what they do not
// know).

declare(strict_types=1);

namespace Sessiond;

use Sessiond\Exception\ProtocolException;

final class SessionInfo
{
    /**
     * @param array<string, string> $data values exactly as stored (strings)
     * @param list<Flash> $flash
     * @param array<string, mixed> $raw
     */
    public function __construct(
        public readonly string $id = '',
        public readonly string $userId = '',
        public readonly string $csrfToken = '',
        public readonly array $data = [],
        public readonly array $flash = [],
        public readonly int $createdAt = 0,
        public readonly int $lastSeenAt = 0,
        public readonly int $expiresAt = 0,
        public readonly int $idleTimeout = 0,
        public readonly int $authenticatedAt = 0,
        public readonly string $ip = '',
        public readonly string $userAgent = '',
        public readonly int $version = 0,
        public readonly bool $new = false,
        public readonly bool $current = false,
        public readonly array $raw = [],
    ) {
    }

    /** From a decoded JSON object; ProtocolException when it is not one. */
    public static function fromArray(mixed $obj): self
    {
        if (!is_array($obj) || array_is_list($obj) && $obj !== []) {
            throw new ProtocolException('session JSON is not an object');
        }
        $flash = [];
        foreach ((array) ($obj['flash'] ?? []) as $f) {
            if (is_array($f)) {
                $flash[] = new Flash((string) ($f['queue'] ?? ''), (string) ($f['message'] ?? ''));
            }
        }
        $data = [];
        foreach ((array) ($obj['data'] ?? []) as $k => $v) {
            $data[(string) $k] = is_string($v) ? $v : (string) json_encode($v);
        }
        return new self(
            id: (string) ($obj['id'] ?? ''),
            userId: (string) ($obj['user_id'] ?? ''),
            csrfToken: (string) ($obj['csrf_token'] ?? ''),
            data: $data,
            flash: $flash,
            createdAt: (int) ($obj['created_at'] ?? 0),
            lastSeenAt: (int) ($obj['last_seen_at'] ?? 0),
            expiresAt: (int) ($obj['expires_at'] ?? 0),
            idleTimeout: (int) ($obj['idle_timeout'] ?? 0),
            authenticatedAt: (int) ($obj['authenticated_at'] ?? 0),
            ip: (string) ($obj['ip'] ?? ''),
            userAgent: (string) ($obj['user_agent'] ?? ''),
            version: (int) ($obj['version'] ?? 0),
            new: (bool) ($obj['new'] ?? false),
            current: (bool) ($obj['current'] ?? false),
            raw: $obj,
        );
    }

    /** The fields a "your devices" page shows, as a JSON-ready array. */
    public function deviceArray(): array
    {
        return [
            'id' => $this->id,
            'current' => $this->current,
            'ip' => $this->ip,
            'user_agent' => $this->userAgent,
            'created_at' => $this->createdAt,
            'authenticated_at' => $this->authenticatedAt,
            'last_seen_at' => $this->lastSeenAt,
            'expires_at' => $this->expiresAt,
        ];
    }
}
