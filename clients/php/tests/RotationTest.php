<?php
// Cookie rotation through $_SESSION: a sessiond that rotates cookies older
// than 2 s (the old value good for 1 s more), so the test can outwait both.
// The session handler passes the new value on; a copy of the old one that
// comes back later ends the session for everyone who holds it.

declare(strict_types=1);

namespace Sessiond\Tests;

use Sessiond\Tests\Support\HttpTestCase;

final class RotationTest extends HttpTestCase
{
    protected static function daemonOptions(): array
    {
        return [['rotate_after=2', 'rotation_grace=1'], []];
    }

    public function testARotatedCookieIsPassedOnAndAStolenCopyEndsTheSession(): void
    {
        $owner = $this->browser('owner');
        $this->ok($owner->post('/login', ['user' => 'rosa']));
        $this->ok($owner->post('/set', ['key' => 'k', 'value' => '1']));
        $thief = $this->browser('thief');
        $thief->cookies = $owner->cookies;  // a copy of the cookie as it is now
        $before = $owner->cookies['sessiond'];
        usleep(2_200_000);  // older than rotate_after: the next load rotates it
        $this->assertSame('rosa', $this->ok($owner->get('/whoami'))['user']);
        $this->assertNotSame($before, $owner->cookies['sessiond']);
        $this->assertSame(1, $this->ok($owner->get('/get?key=k'))['value']);
        usleep(1_200_000);  // the old value's grace is over
        $who = $this->ok($thief->get('/whoami'));
        $this->assertSame('', $who['user']);
        $this->assertSame('reuse_detected', $who['revoked_reason']);
        $this->assertSame('', $this->ok($owner->get('/whoami'))['user']);
    }
}
