<?php
// Client side: the app's set-up contradicts sessiond's (e.g. two cookie names); fix the configuration.

declare(strict_types=1);

namespace Sessiond\Exception;

class ConfigurationException extends CallerException
{
    public const ERROR_CODE = 'CONFIGURATION';
}
