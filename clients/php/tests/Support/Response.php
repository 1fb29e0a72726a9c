<?php
// One HTTP response as the test browser saw it, with the time it took.

declare(strict_types=1);

namespace Sessiond\Tests\Support;

final class Response
{
    /** @param array<string, list<string>> $headers lower-case name => values */
    public function __construct(public readonly int $status, public readonly array $headers,
                                public readonly string $body, public readonly float $seconds)
    {
    }

    public static function parse(string $raw, float $seconds): self
    {
        $split = strpos($raw, "\r\n\r\n");
        if ($split === false) {
            throw new \RuntimeException('not an HTTP response: ' . substr($raw, 0, 200));
        }
        $head = explode("\r\n", substr($raw, 0, $split));
        $body = substr($raw, $split + 4);
        $status = (int) (explode(' ', array_shift($head))[1] ?? 0);
        $headers = [];
        foreach ($head as $line) {
            [$name, $value] = explode(':', $line, 2) + [1 => ''];
            $headers[strtolower(trim($name))][] = trim($value);
        }
        if (strcasecmp($headers['transfer-encoding'][0] ?? '', 'chunked') === 0) {
            $body = self::unchunk($body);
        }
        return new self($status, $headers, $body, $seconds);
    }

    private static function unchunk(string $body): string
    {
        $out = '';
        while (($eol = strpos($body, "\r\n")) !== false) {
            $size = hexdec(substr($body, 0, $eol));
            if ($size === 0) {
                break;
            }
            $out .= substr($body, $eol + 2, $size);
            $body = substr($body, $eol + 2 + $size + 2);
        }
        return $out;
    }

    /** @return list<string> */
    public function headers(string $name): array
    {
        return $this->headers[strtolower($name)] ?? [];
    }

    public function header(string $name): ?string
    {
        return $this->headers(strtolower($name))[0] ?? null;
    }

    public function json(): mixed
    {
        $value = json_decode($this->body, true);
        if ($value === null && json_last_error() !== JSON_ERROR_NONE) {
            throw new \RuntimeException("not JSON (status {$this->status}): " . substr($this->body, 0, 500));
        }
        return $value;
    }
}
