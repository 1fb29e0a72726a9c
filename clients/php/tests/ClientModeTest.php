<?php
// $_SESSION on sessiond in client mode (the whole session, encrypted, in the
// cookie: PHP's session id is then longer than the 256 characters PHP's
// files handler allows, which user handlers may use).

declare(strict_types=1);

namespace Sessiond\Tests;

use Sessiond\Tests\Support\HttpTestCase;
use Sessiond\Tests\Support\ModeTests;

final class ClientModeTest extends HttpTestCase
{
    use ModeTests;

    protected static function daemonOptions(): array
    {
        return [['mode=client'], []];
    }

    public function testALongSessionIdIsFine(): void
    {
        $b = $this->browser();
        $this->ok($b->post('/set', ['key' => 'blob', 'value' => json_encode(str_repeat('y', 600))]));
        $this->assertGreaterThan(256, strlen($this->ok($b->get('/all'))['id']));
        $this->assertSame(600, strlen($this->ok($b->get('/get?key=blob'))['value']));
    }
}
