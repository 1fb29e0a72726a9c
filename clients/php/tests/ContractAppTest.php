<?php
// The contract app (clients/php/contract/serve php PORT) driven as the
// language-neutral suite tests/contract/ drives it: the same routes and
// expectations, run here too so that the PHP suite alone proves the app.

declare(strict_types=1);

namespace Sessiond\Tests;

use Sessiond\Tests\Support\Browser;
use Sessiond\Tests\Support\HttpTestCase;
use Sessiond\Tests\Support\Response;
use Sessiond\Tests\Support\WebServer;

final class ContractAppTest extends HttpTestCase
{
    public static function setUpBeforeClass(): void
    {
        [$session, $cookie] = static::daemonOptions();
        static::$daemon = new Support\Daemon($session, $cookie);
        static::$web = new WebServer('', ['SESSIOND_ENDPOINT' => static::$daemon->endpoint,
                                          'SESSIOND_ADMIN_ENDPOINT' => static::$daemon->adminEndpoint],
                                     [], 4, [dirname(__DIR__) . '/contract/serve', 'php']);
    }

    private function token(Browser $b): string
    {
        $csrf = $this->ok($b->get('/csrf'));
        $this->assertSame('X-CSRF-Token', $csrf['header']);
        return $csrf['token'];
    }

    private function post(Browser $b, string $path, array $form = []): Response
    {
        return $b->post($path, $form, ['X-CSRF-Token' => $this->token($b)]);
    }

    public function testHealthAndTypes(): void
    {
        $b = $this->browser();
        $this->assertSame(['ok' => true], $this->ok($b->get('/health')));
        $this->assertSame(['user' => ''], $this->ok($b->get('/whoami')));
        foreach (['s' => 'text', 'i' => 42, 'f' => 2.5, 't' => true, 'n' => null, 'l' => [1, 'a', [2]],
                  'o' => ['k' => ['v' => 1.0]]] as $key => $value) {
            $this->ok($this->post($b, '/set', ['key' => $key, 'value' => json_encode($value, JSON_PRESERVE_ZERO_FRACTION)]));
            $this->assertSame(['present' => true, 'value' => $value], $this->ok($b->get("/get?key=$key")));
        }
        $this->ok($this->post($b, '/delete', ['key' => 's']));
        $this->assertSame(['present' => false, 'value' => null], $this->ok($b->get('/get?key=s')));
    }

    public function testPostsWithoutTheTokenAre403(): void
    {
        $b = $this->browser();
        $this->token($b);
        $this->assertSame(403, $b->post('/set', ['key' => 'a', 'value' => '1'])->status);
        $this->assertSame(['present' => false, 'value' => null], $this->ok($b->get('/get?key=a')));
    }

    public function testParallelRequestsChangingDifferentKeysBothLand(): void
    {
        $b = $this->browser();
        $token = $this->token($b);
        [$x, $y] = $this->parallelWithToken($b, $token);
        $this->assertSame(200, $x->status, $x->body);
        $this->assertSame(200, $y->status, $y->body);
        $this->assertSame(10, $this->ok($b->get('/get?key=x'))['value']);
        $this->assertSame(20, $this->ok($b->get('/get?key=y'))['value']);
    }

    /** @return list<Response> */
    private function parallelWithToken(Browser $b, string $token): array
    {
        $jobs = [];
        foreach ([['x', '10', 500, 0], ['y', '20', 0, 150]] as [$key, $value, $delay, $after]) {
            $file = tempnam(sys_get_temp_dir(), 'par-');
            $pid = pcntl_fork();
            if ($pid === 0) {
                usleep($after * 1000);
                $r = (clone $b)->post('/set', ['key' => $key, 'value' => $value, 'delay_ms' => $delay], ['X-CSRF-Token' => $token]);
                file_put_contents($file, serialize($r));
                posix_kill(posix_getpid(), SIGKILL);
            }
            $jobs[] = [$pid, $file];
        }
        $out = [];
        foreach ($jobs as [$pid, $file]) {
            pcntl_waitpid($pid, $status);
            $out[] = unserialize((string) file_get_contents($file));
            unlink($file);
        }
        return $out;
    }

    public function testLoginLogoutAndTheOldCookie(): void
    {
        $b = $this->browser();
        $this->ok($this->post($b, '/set', ['key' => 'cart', 'value' => '[1]']));
        $before = $b->cookies;
        $oldToken = $this->token($b);
        $this->assertSame(['user' => 'alice'], $this->ok($this->post($b, '/login', ['user' => 'alice'])));
        $this->assertNotSame($before, $b->cookies);
        $this->assertSame(['user' => 'alice'], $this->ok($b->get('/whoami')));
        $this->assertSame([1], $this->ok($b->get('/get?key=cart'))['value']);
        $this->assertNotSame($oldToken, $this->token($b));
        $old = $this->browser();
        $old->cookies = $before;
        $this->assertSame(['user' => ''], $this->ok($old->get('/whoami')));
        $this->ok($this->post($b, '/logout'));
        $this->assertSame(['user' => ''], $this->ok($b->get('/whoami')));
    }

    public function testFlashOnceAndCsrfRotation(): void
    {
        $b = $this->browser();
        $this->ok($this->post($b, '/flash', ['message' => 'saved']));
        $this->assertSame(['messages' => ['saved']], $this->ok($b->get('/flashes')));
        $this->assertSame(['messages' => []], $this->ok($b->get('/flashes')));
        $token = $this->token($b);
        $new = $this->ok($b->post('/rotate_csrf', [], ['X-CSRF-Token' => $token]))['token'];
        $this->assertNotSame($token, $new);
        $this->assertSame(403, $b->post('/flash', ['message' => 'x'], ['X-CSRF-Token' => $token])->status);
    }

    public function testDevicesSignOutOthersAndPasswordChanged(): void
    {
        $user = 'contract-' . bin2hex(random_bytes(3));
        $a = $this->browser('browser-a');
        $b = $this->browser('browser-b');
        $this->ok($this->post($a, '/login', ['user' => $user]));
        $this->ok($this->post($b, '/login', ['user' => $user]));
        $devices = $this->ok($b->get('/devices'))['devices'];
        $this->assertCount(2, $devices);
        $this->assertTrue($devices[0]['current']);
        $this->assertSame('browser-b', $devices[0]['user_agent']);
        $this->assertSame(['current', 'ip', 'user_agent', 'created_at', 'authenticated_at', 'last_seen_at'],
                          array_keys($devices[0]));
        $this->assertSame(['ended' => 1], $this->ok($this->post($b, '/signout_others')));
        $this->assertSame(['user' => ''], $this->ok($a->get('/whoami')));
        $this->assertSame(['user' => $user], $this->ok($b->get('/whoami')));
        $c = $this->browser('browser-c');
        $this->ok($this->post($c, '/login', ['user' => $user]));
        $this->ok($this->post($b, '/password_changed'));
        $this->assertSame(['user' => ''], $this->ok($c->get('/whoami')));
        $this->assertSame(['user' => $user], $this->ok($b->get('/whoami')));
    }

    public function testTamperedCookieAndOverCapData(): void
    {
        $b = $this->browser();
        $this->ok($this->post($b, '/login', ['user' => 'mallory']));
        $b->cookies['sessiond'] = strrev($b->cookies['sessiond']);
        $this->assertSame(['user' => ''], $this->ok($b->get('/whoami')));
        $big = $this->post($b, '/big', ['bytes' => 100000]);
        $this->assertSame(500, $big->status);
        $this->assertSame(['present' => false, 'value' => null], $this->ok($b->get('/get?key=big')));
    }

    public function testSessiondDownIs503AndBackIsSuccess(): void
    {
        $b = $this->browser();
        $this->ok($this->post($b, '/set', ['key' => 'k', 'value' => '1']));
        static::$daemon->stop();
        try {
            $r = $b->get('/get?key=k');
            $this->assertSame(503, $r->status);
            $this->assertSame('5', $r->header('retry-after'));
        } finally {
            static::$daemon->start();
        }
        $deadline = microtime(true) + 3;
        do {
            $r = $b->get('/get?key=k');
        } while ($r->status !== 200 && microtime(true) < $deadline && usleep(20000) === null);
        $this->assertSame(['present' => true, 'value' => 1], $this->ok($r));
    }
}
