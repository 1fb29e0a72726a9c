<?php
// Base of the tests that drive a PHP app over HTTP: one real sessiond (the
// shared launcher) and one `php -S` with 4 workers per test class.

declare(strict_types=1);

namespace Sessiond\Tests\Support;

use PHPUnit\Framework\TestCase;
use Sessiond\Client;
use Sessiond\Shared\MemoryStore;

abstract class HttpTestCase extends TestCase
{
    protected static Daemon $daemon;
    protected static WebServer $web;

    /** [session options], [cookie options] of the daemon. */
    protected static function daemonOptions(): array
    {
        return [[], []];
    }

    /** @return array<string, string> environment of the app */
    protected static function appEnv(): array
    {
        return [];
    }

    protected static function router(): string
    {
        return dirname(__DIR__) . '/app/router.php';
    }

    public static function setUpBeforeClass(): void
    {
        [$session, $cookie] = static::daemonOptions();
        static::$daemon = new Daemon($session, $cookie);
        static::$web = new WebServer(static::router(), ['SESSIOND_ENDPOINT' => static::$daemon->endpoint] + static::appEnv());
    }

    public static function tearDownAfterClass(): void
    {
        static::$web->stop();
        static::$daemon->close();
    }

    protected function browser(string $userAgent = 'phpunit-browser'): Browser
    {
        return new Browser(static::$web, $userAgent);
    }

    /** A client of the same daemon, to look at what the app stored. */
    protected function client(): Client
    {
        return new Client(static::$daemon->endpoint, 5.0, ['store' => new MemoryStore()]);
    }

    protected function ok(Response $r): array
    {
        $this->assertSame(200, $r->status, $r->body . "\n" . static::$web->logTail());
        return $r->json();
    }

    /**
     * Starts one request in a forked child and returns at once; collect()
     * waits for its response. [browser, method, path, form, start_after_ms]
     *
     * @return array{0: int, 1: string, 2: Browser}
     */
    protected function spawn(array $request): array
    {
        $file = tempnam(sys_get_temp_dir(), 'par-');
        $pid = pcntl_fork();
        if ($pid === 0) {
            [$browser, $method, $path, $form] = $request;
            usleep(($request[4] ?? 0) * 1000);
            $r = $method === 'POST' ? $browser->post($path, $form) : $browser->get($path);
            file_put_contents($file, serialize([$r, $browser->cookies]));
            // End at once: a normal exit would run the parent's shutdown
            // (ZeroMQ contexts, PHPUnit) in the child.
            posix_kill(posix_getpid(), SIGKILL);
        }
        return [$pid, $file, $request[0]];
    }

    /** @param array{0: int, 1: string, 2: Browser} $job */
    protected function collect(array $job): Response
    {
        [$pid, $file, $browser] = $job;
        pcntl_waitpid($pid, $status);
        $result = @unserialize((string) file_get_contents($file));
        unlink($file);
        if (!is_array($result)) {
            throw new \RuntimeException('the request in the child process failed');
        }
        [$response, $cookies] = $result;
        $browser->cookies = $cookies;
        return $response;
    }

    /**
     * Runs several requests at once (separate connections, answered by
     * separate php -S workers); start_after_ms delays each one's start.
     *
     * @param list<array{0: Browser, 1: string, 2: string, 3: array, 4?: int}> $requests
     * @return list<Response>
     */
    protected function parallel(array $requests): array
    {
        $jobs = array_map(fn (array $r) => $this->spawn($r), $requests);
        return array_map(fn (array $job) => $this->collect($job), $jobs);
    }
}
