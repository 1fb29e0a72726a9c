<?php
// How $_SESSION values become sessiond data values (strings) and back.
//
// JSON text, as every other integration stores them (so a Flask or Rails
// app reading the same session sees the same values): null, booleans, ints,
// finite floats (1.0 stays a float), UTF-8 strings and arrays of those
// (lists become JSON arrays, other arrays JSON objects). A value JSON cannot
// carry exactly (an object, a non-UTF-8 string, INF) is kept as PHP's own
// serialize() text, base64'd behind the prefix "~php:" (no JSON text starts
// with "~"), so it round-trips in PHP as it would in PHP's default session.
// A stored value that is neither (written by another client) reads back as
// the plain string.

declare(strict_types=1);

namespace Sessiond;

final class Values
{
    public const PHP_PREFIX = '~php:';
    private const JSON_OUT = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION;

    public static function encode(mixed $value): string
    {
        if (self::jsonSafe($value)) {
            $json = json_encode($value, self::JSON_OUT);
            if ($json !== false) {
                return $json;
            }
        }
        return self::PHP_PREFIX . base64_encode(serialize($value));
    }

    public static function decode(string $text): mixed
    {
        if (str_starts_with($text, self::PHP_PREFIX)) {
            $bytes = base64_decode(substr($text, strlen(self::PHP_PREFIX)), true);
            if ($bytes !== false) {
                // The same trust as PHP's own session decoder: the data comes
                // from sessiond, which only the app's own servers may write to.
                $value = @unserialize($bytes);
                if ($value !== false || $bytes === serialize(false)) {
                    return $value;
                }
            }
            return $text;
        }
        $value = json_decode($text, true, 512, JSON_BIGINT_AS_STRING);
        if ($value === null && json_last_error() !== JSON_ERROR_NONE) {
            return $text;
        }
        return $value;
    }

    /** Whether $new differs from the stored text $stored (formatting of the same JSON value is no change). */
    public static function changed(string $stored, mixed $new, ?string &$encoded = null): bool
    {
        $encoded = self::encode($new);
        if ($encoded === $stored) {
            return false;
        }
        return self::decode($stored) !== $new || is_object($new);
    }

    /** True when JSON holds $value exactly (and decoding gives back an identical PHP value). */
    private static function jsonSafe(mixed $value, int $depth = 0): bool
    {
        if ($value === null || is_bool($value) || is_int($value)) {
            return true;
        }
        if (is_float($value)) {
            return is_finite($value);
        }
        if (is_string($value)) {
            return Protocol::isUtf8($value);
        }
        if (!is_array($value) || $depth > 64) {
            return false;
        }
        foreach ($value as $k => $v) {
            // Keys are strings in JSON; PHP turns canonical integer strings
            // back into int keys on decode, exactly as it stored them.
            if (is_string($k) && !Protocol::isUtf8($k)) {
                return false;
            }
            if (!self::jsonSafe($v, $depth + 1)) {
                return false;
            }
        }
        return true;
    }
}
