<?php
// The PHP "your devices" example over HTTP (php -S) against a real
// sessiond: sign in, two browsers listed with this one marked, sign out all
// other locations (the other browser is told why), CSRF on every form,
// sign out.

declare(strict_types=1);

namespace Sessiond\Examples\Tests;

use Sessiond\Tests\Support\Browser;
use Sessiond\Tests\Support\HttpTestCase;
use Sessiond\Tests\Support\Response;

final class DevicesExampleTest extends HttpTestCase
{
    protected static function router(): string
    {
        return dirname(__DIR__) . '/public/index.php';
    }

    private function token(Response $page): string
    {
        $this->assertSame(1, preg_match('/name="csrf_token" value="([^"]+)"/', $page->body, $m), $page->body);
        return html_entity_decode($m[1]);
    }

    private function signIn(Browser $b, string $user, string $password): Response
    {
        $form = $b->get('/login');
        $this->assertSame(200, $form->status);
        return $b->post('/login', ['user' => $user, 'password' => $password, 'csrf_token' => $this->token($form)]);
    }

    public function testSignInSeeDevicesSignOutOthersAndSignOut(): void
    {
        $laptop = $this->browser('Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0');
        $phone = $this->browser('Mozilla/5.0 (iPhone) Safari/604.1');
        $this->assertSame('/login', $laptop->get('/')->header('location'));

        $wrong = $this->signIn($laptop, 'alice', 'guess');
        $this->assertSame(303, $wrong->status);
        $this->assertStringContainsString('Wrong user name or password.', $laptop->get('/login')->body);

        $this->assertSame('/devices', $this->signIn($laptop, 'alice', 'wonderland')->header('location'));
        $page = $laptop->get('/devices');
        $this->assertSame(200, $page->status, $page->body);
        $this->assertStringContainsString('Signed in as alice.', $page->body);
        $this->assertStringContainsString('<span id="user">alice</span>', $page->body);
        $this->assertSame(1, substr_count($page->body, '<tr class="device'));

        $this->signIn($phone, 'alice', 'wonderland');
        $page = $laptop->get('/devices');
        $this->assertSame(2, substr_count($page->body, '<tr class="device'));
        $this->assertSame(1, substr_count($page->body, 'this device'));
        $this->assertMatchesRegularExpression('#<tr class="device current">\s*<td[^>]*>Firefox on Linux</td>#', $page->body);
        $this->assertStringContainsString('Safari on iPhone', $page->body);

        $done = $laptop->post('/devices/sign-out-others', ['csrf_token' => $this->token($page)]);
        $this->assertSame('/devices', $done->header('location'));
        $page = $laptop->get('/devices');
        $this->assertStringContainsString('Signed out 1 other location.', $page->body);
        $this->assertSame(1, substr_count($page->body, '<tr class="device'));

        $this->assertSame('/login', $phone->get('/devices')->header('location'));
        $this->assertStringContainsString('You were signed out from another device.', $phone->get('/login')->body);

        $this->assertSame('/login', $laptop->post('/logout', ['csrf_token' => $this->token($page)])->header('location'));
        $this->assertStringContainsString('Signed out.', $laptop->get('/login')->body);
        $this->assertSame('/login', $laptop->get('/devices')->header('location'));
    }

    public function testFormsWithoutTheCsrfTokenAreRefused(): void
    {
        $b = $this->browser();
        $b->get('/login');
        $r = $b->post('/login', ['user' => 'bob', 'password' => 'builder']);
        $this->assertSame(403, $r->status);
        $this->assertStringContainsString('403 Forbidden', $r->body);
        $this->assertSame(200, $b->get('/login')->status);
        $this->assertSame('/login', $b->get('/devices')->header('location'));
    }
}
