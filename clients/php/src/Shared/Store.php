<?php
// Small state shared by every request (and every worker process) of one
// machine and user: the circuit breaker and the cached HELLO. PHP forgets
// everything between requests, so "per process" state of the other clients
// lives here instead. Values are JSON-compatible; every operation is cheap
// enough to run on each call (the healthy path is one failed lookup).

declare(strict_types=1);

namespace Sessiond\Shared;

interface Store
{
    /** The value stored under $key, or null when absent or expired. */
    public function get(string $key): mixed;

    /** Stores $value under $key; $ttl seconds (0: until deleted). */
    public function set(string $key, mixed $value, float $ttl = 0.0): void;

    public function delete(string $key): void;

    /**
     * Takes the lease $key for $seconds if nobody holds an unexpired one;
     * atomic across processes: of several callers at once, one gets true.
     */
    public function acquire(string $key, float $seconds): bool;

    /** Gives back a lease this object acquired (no-op otherwise). */
    public function release(string $key): void;

    /** "apcu", "file" or "memory", for logs and tests. */
    public function kind(): string;
}
