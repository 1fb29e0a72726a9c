<?php
// The SD1 client against a real sessiond (the shared launcher): every verb,
// the error groups, timeouts that rebuild the connection, and the circuit
// breaker with sessiond stopped and started again.

declare(strict_types=1);

namespace Sessiond\Tests;

use PHPUnit\Framework\TestCase;
use Sessiond\AdminClient;
use Sessiond\Client;
use Sessiond\Exception\BadEncodingException;
use Sessiond\Exception\BadMacException;
use Sessiond\Exception\CircuitOpenException;
use Sessiond\Exception\ConflictException;
use Sessiond\Exception\CsrfMismatchException;
use Sessiond\Exception\InvalidArgumentException;
use Sessiond\Exception\InvalidCookieException;
use Sessiond\Exception\PermissionDeniedException;
use Sessiond\Exception\RevokedException;
use Sessiond\Exception\TimeoutException;
use Sessiond\Exception\TooLargeException;
use Sessiond\Exception\UnavailableException;
use Sessiond\Flash;
use Sessiond\Shared\MemoryStore;
use Sessiond\Tests\Support\Daemon;

final class ClientTest extends TestCase
{
    private static Daemon $daemon;

    public static function setUpBeforeClass(): void
    {
        self::$daemon = new Daemon();
    }

    public static function tearDownAfterClass(): void
    {
        self::$daemon->close();
    }

    private function client(float $timeout = 2.0, array $options = []): Client
    {
        // A private store per test: breaker state never leaks between tests.
        return new Client(self::$daemon->endpoint, $timeout, $options + ['store' => new MemoryStore()]);
    }

    private function admin(): AdminClient
    {
        return new AdminClient(self::$daemon->adminEndpoint, 2.0, ['store' => new MemoryStore()]);
    }

    public function testPingVersionAndRawCall(): void
    {
        $c = $this->client();
        $this->assertSame('PONG', $c->ping());
        $this->assertStringStartsWith('sessiond ', $c->version());
        $this->assertSame(['PONG'], $c->call('PING'));
    }

    public function testHelloNamesTheCookieAndItsAttributes(): void
    {
        $hello = $this->client()->hello();
        $this->assertSame('SD1', $hello->protocol);
        $this->assertSame('server', $hello->mode);
        $this->assertSame('sessiond', $hello->cookieName);
        $this->assertFalse($hello->cookieSecure);  // the launcher's cookies are not Secure
        $this->assertGreaterThan(0, $hello->maxDataBytes);
    }

    public function testCreateCommitLoadRoundTripsSetEraseAndFlash(): void
    {
        $c = $this->client();
        $created = $c->create('203.0.113.9', 'phpunit');
        $this->assertTrue($created->session->new);
        $this->assertNotSame('', $created->setCookie);
        $one = $c->commit($created->cookie, $created->session->version, ['a' => '1', 'b' => '"x"'], [],
                          [new Flash('', 'saved'), ['notice', 'hello']]);
        $two = $c->commit($one->cookie, $one->session->version, ['c' => '[1,2]'], ['a']);
        $loaded = $c->load($two->cookie);
        $this->assertSame(['b' => '"x"', 'c' => '[1,2]'], $loaded->session->data);
        $this->assertSame('203.0.113.9', $loaded->session->ip);
        $this->assertSame('phpunit', $loaded->session->userAgent);
        $this->assertCount(2, $loaded->session->flash);
        $popped = $c->popFlash($loaded->cookie, 'notice');
        $this->assertSame(['hello'], $popped->messages);
        $this->assertSame(['saved'], $c->popFlash($loaded->cookie)->messages);
        $this->assertSame([], $c->popFlash($loaded->cookie)->messages);
    }

    public function testCommitsOfDifferentKeysFromOneBaseBothLand(): void
    {
        $c = $this->client();
        $s = $c->create();
        $v = $s->session->version;
        $c->commit($s->cookie, $v, ['left' => '1']);
        $c->commit($s->cookie, $v, ['right' => '2']);
        $this->assertSame(['left' => '1', 'right' => '2'], $c->load($s->cookie)->session->data);
    }

    public function testCommitOfTheSameKeyFromOneBaseConflictsAndAppliesNothing(): void
    {
        $c = $this->client();
        $s = $c->create();
        $v = $s->session->version;
        $c->commit($s->cookie, $v, ['k' => '1']);
        try {
            $c->commit($s->cookie, $v, ['k' => '2', 'other' => '3']);
            $this->fail('no conflict');
        } catch (ConflictException $e) {
            $this->assertSame('CONFLICT', $e->getErrorCode());
        }
        $this->assertSame(['k' => '1'], $c->load($s->cookie)->session->data);
    }

    public function testLoginRegeneratesAndTheOldCookieStopsWorking(): void
    {
        $c = $this->client();
        $s = $c->create();
        $s = $c->commit($s->cookie, $s->session->version, ['cart' => '[1]']);
        $in = $c->login($s->cookie, 'alice', '198.51.100.1', 'ua');
        $this->assertSame('alice', $in->session->userId);
        $this->assertNotSame($s->cookie, $in->cookie);
        $this->assertNotSame($s->session->csrfToken, $in->session->csrfToken);
        $this->assertSame(['cart' => '[1]'], $in->session->data);
        $this->expectException(InvalidCookieException::class);
        $c->load($s->cookie);
    }

    public function testRegenerateMovesAnAnonymousSessionAndKeepsItsData(): void
    {
        $c = $this->client();
        $s = $c->create();
        $s = $c->commit($s->cookie, $s->session->version, ['theme' => '"dark"'], [], [['', 'kept']]);
        $r = $c->regenerate($s->cookie);
        $this->assertNotSame($s->cookie, $r->cookie);
        $this->assertNotSame($s->session->csrfToken, $r->session->csrfToken);
        $this->assertSame('', $r->session->userId);
        $this->assertSame(['theme' => '"dark"'], $r->session->data);
        $this->assertSame(['kept'], $c->popFlash($r->cookie)->messages);
        $this->expectException(InvalidCookieException::class);
        $c->load($s->cookie);
    }

    public function testLogoutRevokesAndSaysWhy(): void
    {
        $c = $this->client();
        $s = $c->login('', 'bob');
        $out = $c->logout($s->cookie);
        $this->assertStringContainsString('sessiond=', $out->setCookie);
        try {
            $c->load($s->cookie);
            $this->fail('a logged-out cookie still loads');
        } catch (RevokedException $e) {
            $this->assertSame('logout', $e->reason());
            $this->assertGreaterThan(0, $e->revokedAt());
        }
    }

    public function testBadCookiesAreInvalidCookieErrors(): void
    {
        $c = $this->client();
        try {
            $c->load('not base64!');
            $this->fail('garbage loaded');
        } catch (BadEncodingException $e) {
            $this->assertInstanceOf(InvalidCookieException::class, $e);
        }
        $cookie = $c->create()->cookie;
        $tampered = substr($cookie, 0, -2) . ($cookie[-2] === 'A' ? 'B' : 'A') . $cookie[-1];
        $this->expectException(BadMacException::class);
        $c->load($tampered);
    }

    public function testCsrfCheckAndRotate(): void
    {
        $c = $this->client();
        $s = $c->create();
        $c->csrfCheck($s->cookie, $s->session->csrfToken);
        $rotated = $c->csrfRotate($s->cookie);
        $this->assertNotSame($s->session->csrfToken, $rotated->session->csrfToken);
        $c->csrfCheck($rotated->cookie, $rotated->session->csrfToken);
        $this->expectException(CsrfMismatchException::class);
        $c->csrfCheck($rotated->cookie, $s->session->csrfToken);
    }

    public function testDevicesSignOutOthersAndPasswordChanged(): void
    {
        $c = $this->client();
        $user = 'carol-' . bin2hex(random_bytes(4));
        $first = $c->login('', $user, '192.0.2.1', 'laptop');
        $second = $c->login('', $user, '192.0.2.2', 'phone');
        $third = $c->login('', $user, '192.0.2.3', 'tablet');
        $list = $c->listSessions($third->cookie);
        $this->assertCount(3, $list);
        $this->assertTrue($list[0]->current);
        $this->assertSame('tablet', $list[0]->userAgent);
        $this->assertGreaterThan(0, $list[0]->authenticatedAt);
        $this->assertSame(2, $c->revokeOthers($third->cookie)->ended);
        $this->assertCount(1, $c->listSessions($third->cookie));
        foreach ([$first, $second] as $gone) {
            try {
                $c->load($gone->cookie);
                $this->fail('signed-out session still loads');
            } catch (RevokedException $e) {
                $this->assertSame('signed_out_elsewhere', $e->reason());
            }
        }
        $fourth = $c->login('', $user, '192.0.2.4', 'desktop');
        $bumped = $c->bumpEpoch($third->cookie);
        $this->assertSame($user, $c->load($bumped->cookie)->session->userId);
        try {
            $c->load($fourth->cookie);
            $this->fail('session from before the password change still loads');
        } catch (RevokedException $e) {
            $this->assertSame('password_changed', $e->reason());
        }
    }

    public function testAnonymousSessionsCannotSignOutOthers(): void
    {
        $c = $this->client();
        $this->expectException(InvalidArgumentException::class);
        $c->revokeOthers($c->create()->cookie);
    }

    public function testOverTheCapIsTooLargeAndChangesNothing(): void
    {
        $c = $this->client();
        $s = $c->create();
        try {
            $c->commit($s->cookie, $s->session->version, ['big' => str_repeat('x', 60000)]);
            $this->fail('no TOO_LARGE');
        } catch (TooLargeException) {
        }
        $this->assertSame([], $c->load($s->cookie)->session->data);
        $this->expectException(TooLargeException::class);  // over a frame: refused before it is sent
        $c->load(str_repeat('A', 70000));
    }

    public function testAdminVerbsAndTheAppSocketRefusingThem(): void
    {
        $admin = $this->admin();
        $user = 'dave-' . bin2hex(random_bytes(4));
        $c = $this->client();
        $a = $c->login('', $user);
        $c->login('', $user);
        $this->assertCount(2, $admin->userList($user));
        $this->assertSame(1, $admin->userRevokeOthers($user, $a->session->id));
        $this->assertSame(1, $admin->userRevoke($user));
        $this->assertSame([], $admin->userList($user));
        $stats = $admin->stats();
        $this->assertArrayHasKey('requests', $stats);
        $this->expectException(PermissionDeniedException::class);
        $c->call('STATS');
    }

    public function testTimeoutRebuildsTheConnectionSoALateReplyNeverAnswersALaterRequest(): void
    {
        $c = $this->client(0.3, ['breaker' => false]);
        $this->assertSame('PONG', $c->ping());  // connected
        self::$daemon->pause();
        try {
            $c->version();
            $this->fail('no timeout');
        } catch (TimeoutException $e) {
            $this->assertInstanceOf(UnavailableException::class, $e);
            $this->assertSame('TIMEOUT', $e->getErrorCode());
        } finally {
            self::$daemon->resume();
        }
        // The VERSION reply comes late, to a connection that is gone. (A
        // patient client on the same process-wide socket: a loaded machine
        // may take a while to schedule the resumed daemon.)
        $patient = $this->client(10.0, ['breaker' => false]);
        $this->assertSame('PONG', $patient->ping());
        $this->assertSame('PONG', $c->ping());
    }

    public function testBreakerFailsFastWhileSessiondIsDownAndRecovers(): void
    {
        $store = new MemoryStore();
        $c = $this->client(0.5, ['store' => $store]);
        $other = $this->client(0.5, ['store' => $store]);  // another request of the same machine
        $this->assertSame('PONG', $c->ping());
        self::$daemon->stop();
        try {
            try {
                $c->ping();
                $this->fail('sessiond answered while stopped');
            } catch (TimeoutException) {
                // the failure that opens the breaker
            }
            $this->assertTrue($c->breaker()->isOpen());
            // Open: every call fails at once, no I/O, in every client sharing the store.
            foreach ([$c, $other] as $client) {
                try {
                    $client->ping();
                    $this->fail('no CircuitOpen');
                } catch (CircuitOpenException $e) {
                    $this->assertInstanceOf(UnavailableException::class, $e);
                }
            }
            // The backoff passes: one probe goes out (and fails, bounded by 250 ms).
            usleep(60000);
            $timeouts = 0;
            $fastFailures = 0;
            $deadline = microtime(true) + 1.5;
            while (microtime(true) < $deadline) {
                try {
                    $c->ping();
                } catch (TimeoutException) {
                    $timeouts++;
                } catch (CircuitOpenException) {
                    $fastFailures++;
                }
                usleep(5000);
            }
            $this->assertGreaterThanOrEqual(1, $timeouts);
            $this->assertGreaterThan($timeouts * 3, $fastFailures);
        } finally {
            self::$daemon->start();
        }
        $ok = false;
        $deadline = microtime(true) + 3;
        while (!$ok && microtime(true) < $deadline) {
            try {
                $ok = $c->ping() === 'PONG';
            } catch (UnavailableException) {
                usleep(20000);
            }
        }
        $this->assertTrue($ok, 'no success after sessiond came back');
        $this->assertFalse($c->breaker()->isOpen());
        $this->assertSame('PONG', $other->ping());
    }

    public function testCurveKeysMustComeAsATriple(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        new Client(self::$daemon->endpoint, 1.0, ['curve_server_key' => str_repeat('a', 40)]);
    }
}
