<?php
// sessiond down, seen over HTTP: 503 with Retry-After (when the session is
// first touched and at the final commit), pages that touch no session
// unaffected, fast failure shared by every php -S worker (the breaker in
// APCu, and in the file store), and success again soon after sessiond is back.

declare(strict_types=1);

namespace Sessiond\Tests;

use Sessiond\Tests\Support\Browser;
use Sessiond\Tests\Support\Daemon;
use Sessiond\Tests\Support\HttpTestCase;
use Sessiond\Tests\Support\WebServer;

final class UnavailableTest extends HttpTestCase
{
    private static WebServer $fileWeb;
    private static string $stateDir;

    protected static function appEnv(): array
    {
        return ['APP_TIMEOUT' => '0.5'];
    }

    public static function setUpBeforeClass(): void
    {
        parent::setUpBeforeClass();
        self::$stateDir = sys_get_temp_dir() . '/sessiond-php-test-' . bin2hex(random_bytes(4));
        self::$fileWeb = new WebServer(self::router(), ['SESSIOND_ENDPOINT' => static::$daemon->endpoint,
                                                        'APP_TIMEOUT' => '0.5', 'APP_STORE' => 'file',
                                                        'APP_STATE_DIR' => self::$stateDir]);
    }

    public static function tearDownAfterClass(): void
    {
        self::$fileWeb->stop();
        foreach (glob(self::$stateDir . '/*') ?: [] as $f) {
            @unlink($f);
        }
        @rmdir(self::$stateDir);
        parent::tearDownAfterClass();
    }

    public function testTheApcuStoreIsTheOneInUse(): void
    {
        $this->assertTrue($this->ok($this->browser()->get('/health'))['apcu']);
    }

    /** @return array<string, array{0: string}> */
    public static function servers(): array
    {
        return ['apcu' => ['apcu'], 'file' => ['file']];
    }

    /** @dataProvider servers */
    public function testDownMeans503FastAndBackMeansSuccessSoon(string $which): void
    {
        $web = $which === 'file' ? self::$fileWeb : static::$web;
        $b = new Browser($web);
        $this->assertSame(1, $this->ok($b->get('/count'))['n']);
        static::$daemon->stop();
        try {
            $this->assertSame(200, $b->get('/health')->status);  // touches no session
            $first = $b->get('/count');
            $this->assertSame(503, $first->status, $first->body);
            $this->assertSame('5', $first->header('retry-after'));
            $this->assertSame('no-store', $first->header('cache-control'));
            $codes = [];
            for ($i = 0; $i < 30; $i++) {
                $r = $b->get('/count');
                $this->assertSame(503, $r->status);
                $codes[] = $r->json()['error'];
            }
            $counts = array_count_values($codes);
            // Nearly all of them failed fast; only the probes waited (each at most 250 ms).
            $this->assertGreaterThan(20, $counts['CIRCUIT_OPEN'] ?? 0, json_encode($counts));
            $this->assertSame(200, $b->get('/health')->status);
        } finally {
            static::$daemon->start();
        }
        $deadline = microtime(true) + 3;
        do {
            $r = $b->get('/count');
        } while ($r->status !== 200 && microtime(true) < $deadline && usleep(20000) === null);
        $this->assertSame(200, $r->status, 'no success after sessiond came back: ' . $r->body);
        $this->assertSame(2, $r->json()['n']);  // the session survived the restart
    }

    public function testAPostWhileSessiondIsDownIs503NotACsrfRefusal(): void
    {
        // A fresh php -S (nothing cached: HELLO must be asked) with CSRF on.
        $web = new WebServer(self::router(), ['SESSIOND_ENDPOINT' => static::$daemon->endpoint, 'APP_TIMEOUT' => '0.5',
                                              'APP_STORE' => 'memory', 'APP_OPTIONS' => json_encode(['csrf' => true])], [], 2);
        try {
            $b = new Browser($web);
            $token = $this->ok($b->get('/csrf'))['token'];
            static::$daemon->stop();
            try {
                $r = $b->post('/post_something', ['csrf_token' => $token]);
                $this->assertSame(503, $r->status, $r->body);
                $this->assertSame('5', $r->header('retry-after'));
            } finally {
                static::$daemon->start();
            }
            $this->assertSame(200, $b->post('/post_something', ['csrf_token' => $token])->status);
        } finally {
            $web->stop();
        }
    }

    public function testAFailedFinalCommitIsA503Too(): void
    {
        $b = $this->browser();
        $this->ok($b->get('/count'));
        $job = $this->spawn([$b, 'POST', '/set', ['key' => 'late', 'value' => '1', 'delay_ms' => 1500]]);
        usleep(500000);  // the request has loaded its session and sleeps
        static::$daemon->stop();
        try {
            $r = $this->collect($job);
        } finally {
            static::$daemon->start();
        }
        $this->assertSame(503, $r->status, $r->body);
        $this->assertSame('5', $r->header('retry-after'));
        $this->assertContains($r->json()['error'], ['TIMEOUT', 'CIRCUIT_OPEN']);
        $deadline = microtime(true) + 3;
        do {
            $got = $b->get('/get?key=late');
        } while ($got->status !== 200 && microtime(true) < $deadline && usleep(20000) === null);
        $this->assertFalse($this->ok($got)['present']);
    }
}
