<?php
// $_SESSION on sessiond, over HTTP through php -S (4 workers) against a
// real sessiond in server mode: what an app written for PHP's default
// session sees, and what sessiond adds (only changed keys committed,
// LOGIN/LOGOUT/REGENERATE, flash exactly once, CSRF).

declare(strict_types=1);

namespace Sessiond\Tests;

use Sessiond\Exception\InvalidCookieException;
use Sessiond\Exception\RevokedException;
use Sessiond\SessionHandler;
use Sessiond\Tests\Support\HttpTestCase;

final class SessionHandlerTest extends HttpTestCase
{
    public function testSessionDataRoundTripsWithItsPhpTypes(): void
    {
        $b = $this->browser();
        $this->assertSame(1, $this->ok($b->get('/count'))['n']);
        $this->assertSame(2, $this->ok($b->get('/count'))['n']);
        $value = ['list' => [1, 2.5, 1.0, null, true, 'é'], 'map' => ['a' => ['b' => 'c']], 'n' => -3];
        $this->ok($b->post('/set', ['key' => 'v', 'value' => json_encode($value, JSON_PRESERVE_ZERO_FRACTION)]));
        $got = $this->ok($b->get('/get?key=v'));
        $this->assertTrue($got['present']);
        $this->assertSame($value, $got['value']);
        $this->assertSame(1.0, $got['value']['list'][2]);
        // Stored as JSON text, as every other integration stores values.
        $stored = $this->client()->load($b->cookies['sessiond'])->session->data;
        $this->assertSame('2', $stored['n']);
        $this->assertSame($value, json_decode($stored['v'], true));
    }

    public function testObjectsRoundTripThroughPhpSerialize(): void
    {
        $b = $this->browser();
        $this->ok($b->get('/set_object'));
        $got = $this->ok($b->get('/get_object'));
        $this->assertSame('DateTimeImmutable', $got['class']);
        $this->assertSame('2021-02-03T04:05:06+00:00', $got['value']);
    }

    public function testAPageThatStoresNothingCreatesNoSession(): void
    {
        $b = $this->browser();
        $r = $b->get('/noop');
        $this->assertSame(200, $r->status);
        $this->assertSame([], $r->headers('set-cookie'));
        $this->assertSame([], $b->cookies);
    }

    public function testSessionIdIsTheCookieInPhpsAlphabet(): void
    {
        $b = $this->browser();
        $id = $this->ok($b->get('/count'))['id'];
        $this->assertStringStartsWith('new,', $id);  // provisional until the commit creates it
        $all = $this->ok($b->get('/all'));
        $cookie = $b->cookies['sessiond'];
        $this->assertSame(SessionHandler::idForCookie($cookie), $all['id']);
        $this->assertMatchesRegularExpression('/\A[A-Za-z0-9,-]+\z/', $all['id']);
        $this->assertSame($cookie, SessionHandler::cookieForId($all['id']));
        $this->assertSame('sessiond', $all['name']);  // session_name() is HELLO's cookie name
        $this->assertFalse($all['params']['secure']);
        $this->assertTrue($all['params']['httponly']);
        $this->assertSame('Lax', $all['params']['samesite']);
    }

    public function testOnlyChangedKeysAreCommittedSoParallelRequestsBothLand(): void
    {
        $b = $this->browser();
        $this->ok($b->post('/set', ['key' => 'seed', 'value' => '0']));
        [$slow, $fast] = $this->parallel([
            [$b, 'POST', '/set', ['key' => 'left', 'value' => '"L"', 'delay_ms' => 600]],
            [clone $b, 'POST', '/set', ['key' => 'right', 'value' => '"R"'], 200],
        ]);
        $this->assertSame(200, $slow->status, $slow->body);
        $this->assertSame(200, $fast->status, $fast->body);
        $data = $this->client()->load($b->cookies['sessiond'])->session->data;
        $this->assertSame('"L"', $data['left']);
        $this->assertSame('"R"', $data['right']);
        $this->assertSame('0', $data['seed']);
    }

    public function testTwoParallelChangesOfOneKeyConflictInsteadOfLosingOne(): void
    {
        $b = $this->browser();
        $this->ok($b->post('/set', ['key' => 'k', 'value' => '0']));
        [$slow, $fast] = $this->parallel([
            [$b, 'POST', '/set', ['key' => 'k', 'value' => '1', 'delay_ms' => 600]],
            [clone $b, 'POST', '/set', ['key' => 'k', 'value' => '2'], 200],
        ]);
        $this->assertSame(200, $fast->status, $fast->body);
        $this->assertSame(409, $slow->status, $slow->body);
        $this->assertSame('CONFLICT', $slow->json()['error']);
        $this->assertSame('no-store', $slow->header('cache-control'));
        $this->assertSame('2', $this->client()->load($b->cookies['sessiond'])->session->data['k']);
    }

    public function testInPlaceChangesOfNestedValuesAreCommitted(): void
    {
        $b = $this->browser();
        $this->ok($b->get('/append?key=cart&item=apple'));
        $this->ok($b->get('/append?key=cart&item=pear'));
        $this->assertSame(['apple', 'pear'], $this->ok($b->get('/get?key=cart'))['value']);
    }

    public function testUnsetKeysAreErased(): void
    {
        $b = $this->browser();
        $this->ok($b->post('/set', ['key' => 'gone', 'value' => '1']));
        $this->ok($b->post('/set', ['key' => 'stays', 'value' => '1']));
        $this->ok($b->post('/delete', ['key' => 'gone']));
        $this->assertSame(['stays' => '1'], $this->client()->load($b->cookies['sessiond'])->session->data);
    }

    public function testAnUnchangedSessionSendsNoCommit(): void
    {
        $b = $this->browser();
        $this->ok($b->get('/count'));
        $before = $this->ok($b->get('/version'))['version'];
        $this->ok($b->get('/noop'));
        $this->ok($b->get('/get?key=n'));
        $this->assertSame($before, $this->ok($b->get('/version'))['version']);
    }

    public function testSessionRegenerateIdRegeneratesAndTheOldCookieDies(): void
    {
        $b = $this->browser();
        $this->ok($b->get('/count'));
        $old = $b->cookies['sessiond'];
        $ids = $this->ok($b->get('/regenerate?delete=1&set=marker'));
        $this->assertNotSame($ids['old'], $ids['new']);
        $new = $b->cookies['sessiond'];
        $this->assertNotSame($old, $new);
        $this->assertSame(SessionHandler::idForCookie($new), $ids['new']);
        $data = $this->client()->load($new)->session->data;
        $this->assertSame('1', $data['n']);           // data kept
        $this->assertSame('"after"', $data['marker']);  // and the request's writes after it land
        $this->expectException(InvalidCookieException::class);
        $this->client()->load($old);
    }

    public function testSessionRegenerateIdWithoutDeleteAlsoMovesTheSession(): void
    {
        $b = $this->browser();
        $this->ok($b->get('/count'));
        $old = $b->cookies['sessiond'];
        $this->ok($b->get('/regenerate?delete=0'));
        $this->assertNotSame($old, $b->cookies['sessiond']);
        $this->assertSame(2, $this->ok($b->get('/count'))['n']);
    }

    public function testLoginIdiomRegeneratesThenLogsInWithTheUserKey(): void
    {
        $b = $this->browser();
        $this->ok($b->post('/set', ['key' => 'cart', 'value' => '[7]']));
        $anonymous = $b->cookies['sessiond'];
        $csrf = $this->ok($b->get('/csrf'))['token'];
        $this->assertSame('alice', $this->ok($b->post('/login', ['user' => 'alice']))['user']);
        $cookie = $b->cookies['sessiond'];
        $this->assertNotSame($anonymous, $cookie);
        $session = $this->client()->load($cookie)->session;
        $this->assertSame('alice', $session->userId);  // sessiond's user, not a data key
        $this->assertArrayNotHasKey('user_id', $session->data);
        $this->assertSame('[7]', $session->data['cart']);
        $this->assertNotSame($csrf, $session->csrfToken);
        $who = $this->ok($b->get('/whoami'));
        $this->assertSame('alice', $who['user']);
        $this->assertSame('alice', $who['helper']);
        $this->expectException(InvalidCookieException::class);
        $this->client()->load($anonymous);
    }

    public function testLoginHelperLogsInAtOnce(): void
    {
        $b = $this->browser();
        $this->ok($b->post('/set', ['key' => 'theme', 'value' => '"dark"']));
        $r = $this->ok($b->post('/login_helper', ['user' => 'bob']));
        $this->assertSame('bob', $r['user']);
        $this->assertSame(['theme' => 'dark', 'user_id' => 'bob'], $r['session']);
        $this->assertSame('bob', $this->client()->load($b->cookies['sessiond'])->session->userId);
    }

    public function testRemovingTheUserKeyLogsOutAndKeepsTheRestInAnAnonymousSession(): void
    {
        $b = $this->browser();
        $this->ok($b->post('/set', ['key' => 'theme', 'value' => '"dark"']));
        $this->ok($b->post('/login', ['user' => 'erin']));
        $in = $b->cookies['sessiond'];
        $this->ok($b->get('/unset_user'));
        $out = $b->cookies['sessiond'];
        $this->assertNotSame($in, $out);
        $session = $this->client()->load($out)->session;
        $this->assertSame('', $session->userId);
        $this->assertSame(['theme' => '"dark"'], $session->data);
        try {
            $this->client()->load($in);
            $this->fail('the logged-in session survived');
        } catch (RevokedException) {
        }
    }

    public function testSessionDestroyLogsOutAndLaterFlashStartsAFreshSession(): void
    {
        $b = $this->browser();
        $this->ok($b->post('/login', ['user' => 'frank']));
        $in = $b->cookies['sessiond'];
        $this->ok($b->get('/logout?then_flash=bye'));
        $this->assertNotSame($in, $b->cookies['sessiond'] ?? '');
        $this->assertSame(['bye'], $this->ok($b->get('/flashes'))['messages']);
        $this->assertSame('', $this->ok($b->get('/whoami'))['user']);
        try {
            $this->client()->load($in);
            $this->fail('destroyed session still loads');
        } catch (RevokedException $e) {
            $this->assertSame('logout', $e->reason());
        }
    }

    public function testLogoutDeletesTheCookie(): void
    {
        $b = $this->browser();
        $this->ok($b->post('/login', ['user' => 'gina']));
        $this->ok($b->get('/logout'));
        $this->assertArrayNotHasKey('sessiond', $b->cookies);
    }

    public function testFlashIsShownExactlyOnceEvenWhenTwoRequestsRace(): void
    {
        $b = $this->browser();
        $this->ok($b->post('/flash', ['message' => 'one']));
        $this->ok($b->post('/flash', ['message' => 'two']));
        [$x, $y] = $this->parallel([
            [$b, 'GET', '/flashes?delay_ms=300', []],
            [clone $b, 'GET', '/flashes?delay_ms=300', []],
        ]);
        $seen = array_merge($x->json()['messages'], $y->json()['messages']);
        sort($seen);
        $this->assertSame(['one', 'two'], $seen);
        $this->assertSame([], $this->ok($b->get('/flashes'))['messages']);
    }

    public function testForgedAndTamperedCookiesGetAFreshAnonymousSession(): void
    {
        $forged = $this->browser();
        $forged->cookies['sessiond'] = 'abcdef0123456789abcdef';  // an id sessiond never issued
        $this->assertSame(1, $this->ok($forged->get('/count'))['n']);
        $this->assertNotSame('abcdef0123456789abcdef', $forged->cookies['sessiond']);

        $b = $this->browser();
        $this->ok($b->post('/login', ['user' => 'henry']));
        $cookie = $b->cookies['sessiond'];
        $b->cookies['sessiond'] = substr($cookie, 0, -3) . ($cookie[-3] === 'x' ? 'y' : 'x') . substr($cookie, -2);
        $who = $this->ok($b->get('/whoami'));
        $this->assertSame('', $who['user']);
        $this->assertStringContainsString('ignoring session cookie: BAD_MAC', static::$web->logText());

        $garbage = $this->browser();
        $garbage->cookies['sessiond'] = '<script>';
        $this->assertSame(1, $this->ok($garbage->get('/count'))['n']);
    }

    public function testARevokedSessionSaysWhy(): void
    {
        $laptop = $this->browser('laptop');
        $phone = $this->browser('phone');
        $this->ok($laptop->post('/login', ['user' => 'iris']));
        $this->ok($phone->post('/login', ['user' => 'iris']));
        $this->assertSame(1, $this->ok($phone->post('/signout_others'))['ended']);
        $who = $this->ok($laptop->get('/whoami'));
        $this->assertSame('', $who['user']);
        $this->assertSame('signed_out_elsewhere', $who['revoked_reason']);
        $this->assertSame('iris', $this->ok($phone->get('/whoami'))['user']);
    }

    public function testDevicesListTheCurrentBrowserFirst(): void
    {
        $user = 'jack-' . bin2hex(random_bytes(3));
        $a = $this->browser('browser-a');
        $b = $this->browser('browser-b');
        $this->ok($a->post('/login', ['user' => $user]));
        $this->ok($b->post('/login', ['user' => $user]));
        $devices = $this->ok($a->get('/devices'))['devices'];
        $this->assertCount(2, $devices);
        $this->assertTrue($devices[0]['current']);
        $this->assertSame('browser-a', $devices[0]['user_agent']);
        $this->assertSame('127.0.0.1', $devices[0]['ip']);
        $this->assertFalse($devices[1]['current']);
        $this->assertGreaterThan(0, $devices[0]['authenticated_at']);
    }

    public function testPasswordChangedEndsOtherSessionsAndKeepsThisOne(): void
    {
        $a = $this->browser();
        $b = $this->browser();
        $this->ok($a->post('/login', ['user' => 'kate']));
        $this->ok($b->post('/login', ['user' => 'kate']));
        $this->ok($a->post('/password_changed'));
        $this->assertSame('kate', $this->ok($a->get('/whoami'))['user']);
        $who = $this->ok($b->get('/whoami'));
        $this->assertSame('', $who['user']);
        $this->assertSame('password_changed', $who['revoked_reason']);
    }

    public function testHelpersThatNeedAUserAnswer401WhenAnonymous(): void
    {
        $b = $this->browser();
        foreach (['/devices', '/signout_others', '/password_changed'] as $path) {
            $r = $path === '/devices' ? $b->get($path) : $b->post($path);
            $this->assertSame(401, $r->status, "$path: {$r->body}");
            $this->assertSame('LOGIN_REQUIRED', $r->json()['error']);
        }
    }

    public function testCsrfTokenAndRotation(): void
    {
        $b = $this->browser();
        $token = $this->ok($b->get('/csrf'))['token'];
        $this->assertArrayHasKey('sessiond', $b->cookies);  // the token made a session
        $this->assertSame($token, $this->ok($b->get('/csrf'))['token']);
        $rotated = $this->ok($b->post('/rotate_csrf'))['token'];
        $this->assertNotSame($token, $rotated);
        $this->assertSame($rotated, $this->ok($b->get('/csrf'))['token']);
    }

    public function testAnErrorResponseCommitsNothing(): void
    {
        $b = $this->browser();
        $this->ok($b->get('/count'));
        $this->assertSame(500, $b->get('/fail?status=500')->status);
        $this->assertSame(422, $b->get('/fail?status=422')->status);
        $this->assertArrayNotHasKey('x', $this->client()->load($b->cookies['sessiond'])->session->data);
    }

    public function testSessionResetRestoresWhatWasRead(): void
    {
        $b = $this->browser();
        $this->ok($b->get('/count'));
        $this->assertSame(1, $this->ok($b->get('/reset'))['n']);
        $this->assertSame(2, $this->ok($b->get('/count'))['n']);
    }

    public function testWriteCloseThenStartAgainInOneRequest(): void
    {
        $b = $this->browser();
        $this->ok($b->get('/two_starts'));
        $this->assertSame(['a' => '1', 'b' => '2'], $this->client()->load($b->cookies['sessiond'])->session->data);
    }

    public function testAnExplicitWriteCloseThrowsTheConflictToTheApp(): void
    {
        $b = $this->browser();
        $this->ok($b->post('/set', ['key' => 'k', 'value' => '0']));
        [$slow, $fast] = $this->parallel([
            [$b, 'POST', '/write_close_conflict', ['value' => 'slow', 'delay_ms' => 600]],
            [clone $b, 'POST', '/write_close_conflict', ['value' => 'fast'], 200],
        ]);
        $this->assertNull($this->ok($fast)['caught']);
        $this->assertSame('CONFLICT', $this->ok($slow)['caught']);
    }

    public function testOverTheCapIsA500WithAClearMessageAndNothingStored(): void
    {
        $b = $this->browser();
        $this->ok($b->get('/count'));
        $r = $b->post('/big', ['bytes' => 200000]);
        $this->assertSame(500, $r->status);
        $this->assertSame('TOO_LARGE', $r->json()['error']);  // the page built so far is gone
        $this->assertStringContainsString('commit failed', static::$web->logText());
        $this->assertArrayNotHasKey('big', $this->client()->load($b->cookies['sessiond'])->session->data);
    }

    public function testAKeySessiondCannotStoreIsA500NotASilentLoss(): void
    {
        $b = $this->browser();
        $r = $b->get('/bad_key');
        $this->assertSame(500, $r->status);
        $this->assertSame('INVALID_ARGUMENT', $r->json()['error']);
        $this->assertStringContainsString('has space', static::$web->logText());
    }
}
