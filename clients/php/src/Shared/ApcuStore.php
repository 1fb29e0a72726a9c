<?php
// Store on APCu's shared memory, used when APCu is loaded and enabled (it
// is shared by the workers of php-fpm and of `php -S`, not across
// machines). Expiry is kept in the values themselves and leases are
// integers changed with apcu_cas, because APCu's own TTL can go by the
// request's start time (apc.use_request_time) and cannot express 250 ms.

declare(strict_types=1);

namespace Sessiond\Shared;

final class ApcuStore implements Store
{
    private const PREFIX = 'sessiond-php:';

    /** @var array<string, int> lease key => the expiry (µs) this object set */
    private array $held = [];
    /** @var \Closure(): float */
    private \Closure $now;

    /** $clock: seconds since the epoch (tests pass a fake one). */
    public function __construct(?\Closure $clock = null)
    {
        $this->now = $clock ?? static fn (): float => microtime(true);
    }

    public static function available(): bool
    {
        return function_exists('apcu_enabled') && apcu_enabled();
    }

    public function get(string $key): mixed
    {
        $entry = apcu_fetch(self::PREFIX . $key, $found);
        if (!$found || !is_array($entry)) {
            return null;
        }
        if ($entry['e'] > 0 && $entry['e'] < ($this->now)()) {
            return null;
        }
        return $entry['v'];
    }

    public function set(string $key, mixed $value, float $ttl = 0.0): void
    {
        $expires = $ttl > 0 ? ($this->now)() + $ttl : 0;
        // APCu's own TTL only reclaims the memory later; the value's expiry decides.
        apcu_store(self::PREFIX . $key, ['v' => $value, 'e' => $expires], $ttl > 0 ? (int) ceil($ttl) + 60 : 0);
    }

    public function delete(string $key): void
    {
        apcu_delete(self::PREFIX . $key);
    }

    public function acquire(string $key, float $seconds): bool
    {
        $name = self::PREFIX . 'lease:' . $key;
        $now = (int) (($this->now)() * 1e6);
        $until = $now + (int) ($seconds * 1e6);
        if (apcu_add($name, $until)) {
            $this->held[$key] = $until;
            return true;
        }
        $old = apcu_fetch($name, $found);
        if ($found && is_int($old) && $old <= $now && apcu_cas($name, $old, $until)) {
            $this->held[$key] = $until;
            return true;
        }
        return false;
    }

    public function release(string $key): void
    {
        if (isset($this->held[$key])) {
            // Only if it is still ours: an expired lease may have passed on.
            apcu_cas(self::PREFIX . 'lease:' . $key, $this->held[$key], 0);
            unset($this->held[$key]);
        }
    }

    public function kind(): string
    {
        return 'apcu';
    }
}
