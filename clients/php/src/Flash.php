<?php
// One flash message waiting in a queue ("" is the default queue), as the
// session JSON lists them.

declare(strict_types=1);

namespace Sessiond;

final class Flash
{
    public function __construct(public readonly string $queue, public readonly string $message)
    {
    }
}
