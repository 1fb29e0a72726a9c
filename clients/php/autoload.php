<?php
// A PSR-4 autoloader for the Sessiond\ namespace, for installs without
// Composer (Packagist is not needed: require this file). It maps exactly as
// composer.json's "autoload" does, so both ways load the same classes.

declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    $prefix = 'Sessiond\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $relative = substr($class, strlen($prefix));
    $file = __DIR__ . '/src/' . str_replace('\\', '/', $relative) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
