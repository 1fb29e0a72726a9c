<?php
// The shared stores under the breaker and the HELLO cache: values with
// expiry, and leases that exactly one of several processes gets.

declare(strict_types=1);

namespace Sessiond\Tests;

use PHPUnit\Framework\TestCase;
use Sessiond\CircuitBreaker;
use Sessiond\Exception\CircuitOpenException;
use Sessiond\Shared\ApcuStore;
use Sessiond\Shared\FileStore;
use Sessiond\Shared\MemoryStore;
use Sessiond\Shared\Store;

final class SharedStoreTest extends TestCase
{
    private static string $dir;
    /** The fake clock every store and breaker here reads, in seconds. */
    private float $now = 1_700_000_000.0;

    public static function setUpBeforeClass(): void
    {
        self::$dir = sys_get_temp_dir() . '/sessiond-php-store-test-' . bin2hex(random_bytes(4));
    }

    public static function tearDownAfterClass(): void
    {
        foreach (glob(self::$dir . '/*') ?: [] as $f) {
            unlink($f);
        }
        @rmdir(self::$dir);
    }

    /** @return array<string, array{0: string}> */
    public static function kinds(): array
    {
        return ['file' => ['file'], 'apcu' => ['apcu'], 'memory' => ['memory']];
    }

    private function store(string $kind): Store
    {
        if ($kind === 'apcu' && !ApcuStore::available()) {
            $this->markTestSkipped('APCu is not enabled for the CLI (clients/php/test.sh runs with apc.enable_cli=1)');
        }
        $clock = fn (): float => $this->now;
        return match ($kind) {
            'file' => new FileStore(self::$dir, $clock),
            'apcu' => new ApcuStore($clock),
            'memory' => new MemoryStore($clock),
        };
    }

    /** @dataProvider kinds */
    public function testValuesExpire(string $kind): void
    {
        $s = $this->store($kind);
        $key = 'v-' . bin2hex(random_bytes(4));
        $this->assertNull($s->get($key));
        $s->set($key, ['a' => 1]);
        $this->assertSame(['a' => 1], $s->get($key));
        $s->set($key, 'short', 0.05);
        $this->now += 0.04;
        $this->assertSame('short', $s->get($key));
        $this->now += 0.02;
        $this->assertNull($s->get($key));
        $s->set($key, 1);
        $s->delete($key);
        $this->assertNull($s->get($key));
    }

    /** @dataProvider kinds */
    public function testALeaseIsHeldByOneUntilReleasedOrExpired(string $kind): void
    {
        $a = $this->store($kind);
        $b = $kind === 'memory' ? $a : $this->store($kind);
        $key = 'l-' . bin2hex(random_bytes(4));
        $this->assertTrue($a->acquire($key, 5));
        $this->assertFalse($b->acquire($key, 5));
        if ($b !== $a) {
            $b->release($key);  // not b's: no effect
            $this->assertFalse($b->acquire($key, 5));
        }
        $a->release($key);
        $this->assertTrue($b->acquire($key, 0.05));
        $this->now += 0.04;
        $this->assertFalse($a->acquire($key, 5));  // b's lease still holds
        $this->now += 0.02;
        $this->assertTrue($a->acquire($key, 5));  // b's lease expired
    }

    public function testOfManyProcessesExactlyOneGetsTheFileLease(): void
    {
        $key = 'race-' . bin2hex(random_bytes(4));
        $start = microtime(true) + 0.3;
        $children = [];
        for ($i = 0; $i < 8; $i++) {
            $out = tempnam(sys_get_temp_dir(), 'lease-');
            $pid = pcntl_fork();
            if ($pid === 0) {
                $store = new FileStore(self::$dir);
                time_sleep_until($start);
                file_put_contents($out, $store->acquire($key, 10) ? '1' : '0');
                posix_kill(posix_getpid(), SIGKILL);  // no shutdown of the parent's state in the child
            }
            $children[] = [$pid, $out];
        }
        $won = 0;
        foreach ($children as [$pid, $out]) {
            pcntl_waitpid($pid, $status);
            $won += (int) file_get_contents($out);
            unlink($out);
        }
        $this->assertSame(1, $won);
    }

    /** @dataProvider kinds */
    public function testTheBreakerOpensBacksOffAndLetsOneProbeThrough(string $kind): void
    {
        $store = $this->store($kind);
        $name = 'tcp://breaker-test/' . bin2hex(random_bytes(4));
        $clock = fn (): float => $this->now;
        $a = new CircuitBreaker($store, $name, $clock);
        $b = new CircuitBreaker($store, $name, $clock);
        $this->assertSame(2.0, $a->admit(2.0));
        $a->failed();
        $this->assertTrue($b->isOpen());
        foreach ([$a, $b] as $breaker) {
            try {
                $breaker->admit(2.0);
                $this->fail('open breaker let a call through');
            } catch (CircuitOpenException) {
            }
        }
        $this->now += 0.049;
        try {
            $b->admit(2.0);
            $this->fail('the first backoff (50 ms) was not kept');
        } catch (CircuitOpenException) {
        }
        $this->now += 0.002;  // past the first backoff
        $this->assertSame(CircuitBreaker::PROBE_TIMEOUT, $a->admit(2.0));  // the probe
        try {
            $b->admit(2.0);
            $this->fail('a second probe went out');
        } catch (CircuitOpenException) {
        }
        $a->failed();  // the probe failed: backoff doubles to 100 ms
        $this->now += 0.099;
        try {
            $b->admit(2.0);
            $this->fail('the doubled backoff was not kept');
        } catch (CircuitOpenException) {
        }
        $this->now += 0.002;
        $this->assertSame(CircuitBreaker::PROBE_TIMEOUT, $b->admit(2.0));
        $b->succeeded();
        $this->assertFalse($a->isOpen());
        $this->assertSame(2.0, $a->admit(2.0));
        $a->succeeded();
    }

    /** @dataProvider kinds */
    public function testTheBackoffDoublesUpTo500Milliseconds(string $kind): void
    {
        $store = $this->store($kind);
        $name = 'tcp://breaker-cap/' . bin2hex(random_bytes(4));
        $breaker = new CircuitBreaker($store, $name, fn (): float => $this->now);
        $breaker->admit(2.0);
        $breaker->failed();
        $waits = [];
        for ($i = 0; $i < 6; $i++) {
            $waited = 0.0;
            while (true) {
                try {
                    $breaker->admit(2.0);
                    break;
                } catch (CircuitOpenException) {
                    $this->now += 0.001;
                    $waited += 0.001;
                }
            }
            $waits[] = round($waited, 3);
            $breaker->failed();  // every probe fails
        }
        foreach ([0.05, 0.1, 0.2, 0.4, 0.5, 0.5] as $i => $want) {
            $this->assertEqualsWithDelta($want, $waits[$i], 0.0021, "backoff $i");
        }
    }
}
