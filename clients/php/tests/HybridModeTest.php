<?php
// $_SESSION on sessiond in hybrid mode (encrypted data and an id in the cookie).

declare(strict_types=1);

namespace Sessiond\Tests;

use Sessiond\Tests\Support\HttpTestCase;
use Sessiond\Tests\Support\ModeTests;

final class HybridModeTest extends HttpTestCase
{
    use ModeTests;

    protected static function daemonOptions(): array
    {
        return [['mode=hybrid'], []];
    }
}
