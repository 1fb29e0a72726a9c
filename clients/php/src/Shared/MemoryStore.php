<?php
// Store that lives as long as the PHP object: the fallback when neither
// APCu nor a private state directory is usable (then nothing is shared
// between requests and a down sessiond costs one timeout per request), and
// a test double of the other two.

declare(strict_types=1);

namespace Sessiond\Shared;

final class MemoryStore implements Store
{
    /** @var array<string, array{v: mixed, e: float}> */
    private array $values = [];
    /** @var array<string, float> */
    private array $leases = [];
    /** @var \Closure(): float */
    private \Closure $now;

    /** $clock: seconds since the epoch (tests pass a fake one). */
    public function __construct(?\Closure $clock = null)
    {
        $this->now = $clock ?? static fn (): float => microtime(true);
    }

    public function get(string $key): mixed
    {
        $entry = $this->values[$key] ?? null;
        if ($entry === null || ($entry['e'] > 0 && $entry['e'] < ($this->now)())) {
            return null;
        }
        return $entry['v'];
    }

    public function set(string $key, mixed $value, float $ttl = 0.0): void
    {
        $this->values[$key] = ['v' => $value, 'e' => $ttl > 0 ? ($this->now)() + $ttl : 0.0];
    }

    public function delete(string $key): void
    {
        unset($this->values[$key]);
    }

    public function acquire(string $key, float $seconds): bool
    {
        $now = ($this->now)();
        if (($this->leases[$key] ?? 0.0) > $now) {
            return false;
        }
        $this->leases[$key] = $now + $seconds;
        return true;
    }

    public function release(string $key): void
    {
        unset($this->leases[$key]);
    }

    public function kind(): string
    {
        return 'memory';
    }
}
