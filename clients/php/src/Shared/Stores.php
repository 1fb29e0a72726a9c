<?php
// Picks the shared store: APCu when it is loaded and enabled, else files in
// a private directory under sys_get_temp_dir(), else (directory unusable) a
// per-request memory store, with one line in the log saying why.

declare(strict_types=1);

namespace Sessiond\Shared;

final class Stores
{
    /**
     * @param string $kind "auto", "apcu", "file" or "memory"
     * @param string|null $dir the FileStore directory (default under sys_get_temp_dir())
     */
    public static function open(string $kind = 'auto', ?string $dir = null): Store
    {
        if ($kind === 'memory') {
            return new MemoryStore();
        }
        if ($kind === 'apcu' || ($kind === 'auto' && ApcuStore::available())) {
            if (!ApcuStore::available()) {
                throw new \RuntimeException('sessiond: APCu is not loaded or not enabled (apc.enabled, apc.enable_cli)');
            }
            return new ApcuStore();
        }
        if ($kind !== 'file' && $kind !== 'auto') {
            throw new \InvalidArgumentException("sessiond: unknown shared store kind '$kind'");
        }
        try {
            return new FileStore($dir);
        } catch (\RuntimeException $e) {
            error_log($e->getMessage() . '; the circuit breaker and the HELLO cache will not be shared between requests');
            return new MemoryStore();
        }
    }
}
