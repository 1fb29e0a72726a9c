<?php
// The tests every storage mode passes (the cookie changes with every change
// in client and hybrid mode; the app must not notice).

declare(strict_types=1);

namespace Sessiond\Tests\Support;

use Sessiond\SessionHandler;

trait ModeTests
{
    public function testCountingLoginFlashAndLogout(): void
    {
        $b = $this->browser();
        $this->assertSame(1, $this->ok($b->get('/count'))['n']);
        $first = $b->cookies['sessiond'];
        $this->assertSame(2, $this->ok($b->get('/count'))['n']);
        $this->assertNotSame($first, $b->cookies['sessiond']);  // the data is in the cookie
        $all = $this->ok($b->get('/all'));
        $this->assertSame(SessionHandler::idForCookie($b->cookies['sessiond']), $all['id']);

        $this->ok($b->post('/login', ['user' => 'mode-user']));
        $this->assertSame('mode-user', $this->ok($b->get('/whoami'))['user']);
        $this->assertSame(3, $this->ok($b->get('/count'))['n']);  // data kept through the login

        $this->ok($b->post('/flash', ['message' => 'hi']));
        $this->assertSame(['hi'], $this->ok($b->get('/flashes'))['messages']);
        $this->assertSame([], $this->ok($b->get('/flashes'))['messages']);

        $this->ok($b->get('/logout'));
        $this->assertSame('', $this->ok($b->get('/whoami'))['user']);
        $this->assertSame(1, $this->ok($b->get('/count'))['n']);
    }

    public function testRegenerateAndCsrfRotation(): void
    {
        $b = $this->browser();
        $this->ok($b->get('/count'));
        $token = $this->ok($b->get('/csrf'))['token'];
        $this->ok($b->get('/regenerate?delete=1'));
        $this->assertSame(2, $this->ok($b->get('/count'))['n']);
        $this->assertNotSame($token, $this->ok($b->get('/csrf'))['token']);
        $rotated = $this->ok($b->post('/rotate_csrf'))['token'];
        $this->assertSame($rotated, $this->ok($b->get('/csrf'))['token']);
    }
}
