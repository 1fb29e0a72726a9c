<?php
// One source of truth for the cookie (HELLO): the app's own cookie settings
// must agree with it or the app fails loudly, naming both; a Secure cookie
// on plain http is warned about once. And CSRF enforcement on unsafe methods.

declare(strict_types=1);

namespace Sessiond\Tests;

use PHPUnit\Framework\TestCase;
use Sessiond\Tests\Support\Browser;
use Sessiond\Tests\Support\Daemon;
use Sessiond\Tests\Support\WebServer;

final class ConfigurationTest extends TestCase
{
    private static Daemon $daemon;
    private static Daemon $named;
    /** @var list<WebServer> */
    private static array $servers = [];

    public static function setUpBeforeClass(): void
    {
        self::$daemon = new Daemon();
        self::$named = new Daemon([], ['name=myapp', 'secure=true']);
    }

    public static function tearDownAfterClass(): void
    {
        foreach (self::$servers as $s) {
            $s->stop();
        }
        self::$daemon->close();
        self::$named->close();
    }

    private function web(array $env, ?Daemon $daemon = null): WebServer
    {
        $web = new WebServer(dirname(__FILE__) . '/app/router.php',
                             ['SESSIOND_ENDPOINT' => ($daemon ?? self::$daemon)->endpoint] + $env, [], 2);
        self::$servers[] = $web;
        return $web;
    }

    public function testAnAppCookieNameOtherThanSessiondsIsALoudError(): void
    {
        $web = $this->web(['APP_OPTIONS' => json_encode(['cookie_name' => 'othername'])]);
        $r = (new Browser($web))->get('/count');
        $this->assertSame(500, $r->status);
        $this->assertSame('CONFIGURATION', $r->json()['error']);
        $this->assertStringContainsString("'othername'", $r->json()['message']);
        $this->assertStringContainsString("'sessiond'", $r->json()['message']);
        $this->assertStringContainsString('othername', $web->logText());
    }

    public function testASessionNameOtherThanSessiondsIsALoudError(): void
    {
        $web = $this->web(['APP_INI' => json_encode(['session.name' => 'MYSESSION'])]);
        $r = (new Browser($web))->get('/count');
        $this->assertSame(500, $r->status);
        $this->assertStringContainsString("session.name is 'MYSESSION'", $r->json()['message']);
    }

    public function testAConflictingCookieAttributeIsALoudError(): void
    {
        $web = $this->web(['APP_INI' => json_encode(['session.cookie_samesite' => 'Strict', 'session.cookie_secure' => '1'])]);
        $message = (new Browser($web))->get('/count')->json()['message'];
        $this->assertStringContainsString("session.cookie_samesite is 'Strict' but sessiond's cookie says 'Lax'", $message);
        $this->assertStringContainsString("session.cookie_secure is '1' but sessiond's cookie says '0'", $message);
    }

    public function testSettingsThatAgreeAreFine(): void
    {
        $web = $this->web(['APP_INI' => json_encode(['session.name' => 'sessiond', 'session.cookie_httponly' => '1',
                                                     'session.cookie_samesite' => 'lax'])]);
        $b = new Browser($web);
        $this->assertSame(200, $b->get('/count')->status);
        $this->assertArrayHasKey('sessiond', $b->cookies);
    }

    public function testTheCookieNameAndAttributesComeFromHello(): void
    {
        $web = $this->web([], self::$named);
        $b = new Browser($web);
        $r = $b->get('/count');
        $this->assertSame(200, $r->status, $r->body);
        $this->assertArrayHasKey('myapp', $b->cookies);
        $this->assertStringContainsString('Secure', $r->header('set-cookie'));
        $all = $b->get('/all')->json();
        $this->assertSame('myapp', $all['name']);
        $this->assertTrue($all['params']['secure']);
        $this->assertSame(2, $b->get('/count')->json()['n']);
        // A Secure cookie over plain http: one loud warning, not one per request.
        $this->assertSame(1, substr_count($web->logText(), 'is Secure but this request came over plain http'));
    }

    /** @return array<string, array{0: string}> */
    public static function lazyWrite(): array
    {
        return ['lazy_write on' => ['1'], 'lazy_write off' => ['0']];
    }

    /** @dataProvider lazyWrite */
    public function testUnchangedSessionsAreNeverWrittenAndFlashStillLands(string $lazy): void
    {
        // lazy_write=1: PHP calls updateTimestamp() for an unchanged session;
        // 0: write() with the same data. Neither sends a COMMIT, both commit a flash.
        $web = $this->web(['APP_INI' => json_encode(['session.lazy_write' => $lazy])]);
        $b = new Browser($web);
        $this->assertSame(1, $b->get('/count')->json()['n']);
        $version = $b->get('/version')->json()['version'];
        $this->assertSame(200, $b->get('/noop')->status);
        $this->assertSame($version, $b->get('/version')->json()['version']);
        $this->assertSame(200, $b->post('/flash', ['message' => "lazy $lazy"])->status);
        $this->assertSame(["lazy $lazy"], $b->get('/flashes')->json()['messages']);
        $this->assertSame(2, $b->get('/count')->json()['n']);
    }

    public function testANonPersistentSocketLivesAndDiesWithItsRequest(): void
    {
        // A per-request ZeroMQ context once made every request hang at its
        // end (zmq_term waiting for a socket PHP had not freed yet).
        $web = $this->web(['APP_PERSISTENT' => '0']);
        $b = new Browser($web);
        for ($n = 1; $n <= 3; $n++) {
            $r = $b->get('/count');
            $this->assertSame(200, $r->status, $r->body);
            $this->assertSame($n, $r->json()['n']);
        }
    }

    public function testUnsafeMethodsNeedTheCsrfToken(): void
    {
        $web = $this->web(['APP_OPTIONS' => json_encode(['csrf' => true])]);
        $b = new Browser($web);
        $this->assertSame(403, $b->post('/post_something')->status);
        $token = $b->get('/csrf')->json()['token'];
        $refused = $b->post('/post_something', [], ['X-CSRF-Token' => 'wrong']);
        $this->assertSame(403, $refused->status);
        $this->assertSame('CSRF_MISMATCH', $refused->json()['error']);
        $this->assertSame(200, $b->post('/post_something', [], ['X-CSRF-Token' => $token])->status);
        $this->assertSame(200, $b->post('/post_something', ['csrf_token' => $token])->status);
        $this->assertSame(200, $b->get('/count')->status);  // GET needs no token
        // Login rotates the token: the old one stops working.
        $this->assertSame(200, $b->post('/login', ['user' => 'lena', 'csrf_token' => $token])->status);
        $this->assertSame(403, $b->post('/post_something', ['csrf_token' => $token])->status);
        $fresh = $b->get('/csrf')->json()['token'];
        $this->assertNotSame($token, $fresh);
        $this->assertSame(200, $b->post('/post_something', ['csrf_token' => $fresh])->status);
    }
}
