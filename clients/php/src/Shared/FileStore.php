<?php
// Store on small files in a private directory (default
// sys_get_temp_dir()/sessiond-php-<uid>, mode 0700), for when APCu is not
// loaded. Readers take no lock: writers replace a file by rename(), so a
// read sees the old or the new content, never half of it. Leases are taken
// under flock(LOCK_EX) on a lock file beside the value. A directory owned
// by someone else or open to others is refused (another local user could
// otherwise feed this process a breaker state or a cookie name).

declare(strict_types=1);

namespace Sessiond\Shared;

final class FileStore implements Store
{
    private string $dir;

    /** @var array<string, float> lease key => the expiry this object wrote */
    private array $held = [];

    /** @var \Closure(): float */
    private \Closure $now;

    /**
     * Throws \RuntimeException when $dir cannot be made private to this user.
     * $clock: seconds since the epoch (tests pass a fake one).
     */
    public function __construct(?string $dir = null, ?\Closure $clock = null)
    {
        $this->now = $clock ?? static fn (): float => microtime(true);
        $uid = function_exists('posix_geteuid') ? posix_geteuid() : getmyuid();
        $dir ??= rtrim(sys_get_temp_dir(), '/') . '/sessiond-php-' . $uid;
        if (!is_dir($dir) && !@mkdir($dir, 0700, true) && !is_dir($dir)) {
            throw new \RuntimeException("sessiond: cannot create state directory $dir");
        }
        clearstatcache(true, $dir);
        $owner = @fileowner($dir);
        $perms = @fileperms($dir);
        if ($owner === false || $perms === false || is_link($dir)) {
            throw new \RuntimeException("sessiond: cannot stat state directory $dir");
        }
        if (function_exists('posix_geteuid') && $owner !== posix_geteuid()) {
            throw new \RuntimeException("sessiond: state directory $dir belongs to uid $owner, not to this process");
        }
        if (($perms & 0077) !== 0) {
            throw new \RuntimeException(sprintf('sessiond: state directory %s has mode %o; it must be 0700', $dir, $perms & 0777));
        }
        $this->dir = $dir;
    }

    public function directory(): string
    {
        return $this->dir;
    }

    public function get(string $key): mixed
    {
        $text = @file_get_contents($this->path($key));
        if ($text === false) {
            return null;
        }
        $entry = json_decode($text, true);
        if (!is_array($entry) || !array_key_exists('v', $entry)) {
            return null;
        }
        if (($entry['e'] ?? 0) > 0 && $entry['e'] < ($this->now)()) {
            return null;
        }
        return $entry['v'];
    }

    public function set(string $key, mixed $value, float $ttl = 0.0): void
    {
        $entry = json_encode(['v' => $value, 'e' => $ttl > 0 ? ($this->now)() + $ttl : 0]);
        $path = $this->path($key);
        $tmp = $path . '.' . bin2hex(random_bytes(6)) . '.tmp';
        if (@file_put_contents($tmp, $entry) === false || !@rename($tmp, $path)) {
            @unlink($tmp);
        }
    }

    public function delete(string $key): void
    {
        @unlink($this->path($key));
    }

    public function acquire(string $key, float $seconds): bool
    {
        return $this->locked($key, function ($handle) use ($key, $seconds): bool {
            $now = ($this->now)();
            $until = (float) stream_get_contents($handle, -1, 0);
            if ($until > $now) {
                return false;
            }
            $mine = $now + $seconds;
            ftruncate($handle, 0);
            rewind($handle);
            fwrite($handle, sprintf('%.6F', $mine));
            fflush($handle);
            $this->held[$key] = $mine;
            return true;
        });
    }

    public function release(string $key): void
    {
        if (!isset($this->held[$key])) {
            return;
        }
        $mine = $this->held[$key];
        unset($this->held[$key]);
        $this->locked($key, function ($handle) use ($mine): bool {
            $until = (float) stream_get_contents($handle, -1, 0);
            if (abs($until - $mine) < 1e-6) {  // still ours
                ftruncate($handle, 0);
                fflush($handle);
            }
            return true;
        });
    }

    public function kind(): string
    {
        return 'file';
    }

    private function path(string $key): string
    {
        return $this->dir . '/' . preg_replace('/[^A-Za-z0-9_.-]/', '_', $key);
    }

    /** Runs $body with the lease file of $key open and locked; false when it cannot be locked. */
    private function locked(string $key, callable $body): bool
    {
        $handle = @fopen($this->path($key) . '.lease', 'c+');
        if ($handle === false) {
            return false;
        }
        try {
            if (!flock($handle, LOCK_EX)) {
                return false;
            }
            try {
                return $body($handle);
            } finally {
                flock($handle, LOCK_UN);
            }
        } finally {
            fclose($handle);
        }
    }
}
