<?php
// HELLO: what the server says about itself, above all the cookie's name and
// attributes, which every integration takes from here (one source of truth).
// $raw keeps the whole object, members this client does not know included.

declare(strict_types=1);

namespace Sessiond;

use Sessiond\Exception\ProtocolException;

final class Hello
{
    /** @param array<string, mixed> $raw */
    public function __construct(
        public readonly string $protocol,
        public readonly string $server,
        public readonly string $mode,
        public readonly string $cookieName,
        public readonly string $cookiePath,
        public readonly string $cookieDomain,
        public readonly bool $cookieSecure,
        public readonly bool $cookieHttpOnly,
        public readonly string $cookieSameSite,
        public readonly int $cookieMaxAge,
        public readonly int $lifetime,
        public readonly int $idleTimeout,
        public readonly int $maxDataBytes,
        public readonly array $raw = [],
    ) {
    }

    public static function fromArray(mixed $obj): self
    {
        if (!is_array($obj) || !is_array($obj['cookie'] ?? null) || !isset($obj['cookie']['name'])) {
            throw new ProtocolException('HELLO reply is not an object with a cookie name');
        }
        $c = $obj['cookie'];
        return new self(
            protocol: (string) ($obj['protocol'] ?? ''),
            server: (string) ($obj['server'] ?? ''),
            mode: (string) ($obj['mode'] ?? ''),
            cookieName: (string) $c['name'],
            cookiePath: (string) ($c['path'] ?? '/'),
            cookieDomain: (string) ($c['domain'] ?? ''),
            cookieSecure: (bool) ($c['secure'] ?? true),
            cookieHttpOnly: (bool) ($c['http_only'] ?? true),
            cookieSameSite: (string) ($c['same_site'] ?? ''),
            cookieMaxAge: (int) ($c['max_age'] ?? 0),
            lifetime: (int) ($obj['lifetime'] ?? 0),
            idleTimeout: (int) ($obj['idle_timeout'] ?? 0),
            maxDataBytes: (int) ($obj['max_data_bytes'] ?? 0),
            raw: $obj,
        );
    }
}
