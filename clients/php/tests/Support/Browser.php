<?php
// A minimal browser for tests: HTTP/1.1 requests over PHP's own sockets
// (Debian's php-cli has no curl by default) with a cookie jar that follows
// Set-Cookie (value, Max-Age=0 deletion). Each Browser is one user agent.

declare(strict_types=1);

namespace Sessiond\Tests\Support;

final class Browser
{
    /** @var array<string, string> */
    public array $cookies = [];

    public function __construct(private readonly WebServer $server, public readonly string $userAgent = 'phpunit-browser')
    {
    }

    public function get(string $path, array $headers = []): Response
    {
        return $this->request('GET', $path, null, $headers);
    }

    /** @param array<string, string|int> $form */
    public function post(string $path, array $form = [], array $headers = []): Response
    {
        return $this->request('POST', $path, http_build_query($form), $headers);
    }

    public function request(string $method, string $path, ?string $body = null, array $headers = []): Response
    {
        $socket = stream_socket_client('tcp://127.0.0.1:' . $this->server->port, $errno, $errstr, 10);
        if ($socket === false) {
            throw new \RuntimeException("connect: $errstr");
        }
        stream_set_timeout($socket, 30);
        $lines = ["$method $path HTTP/1.1", 'Host: 127.0.0.1:' . $this->server->port, 'Connection: close',
                  'User-Agent: ' . $this->userAgent];
        if ($this->cookies !== []) {
            $pairs = [];
            foreach ($this->cookies as $name => $value) {
                $pairs[] = "$name=$value";
            }
            $lines[] = 'Cookie: ' . implode('; ', $pairs);
        }
        foreach ($headers as $name => $value) {
            $lines[] = "$name: $value";
        }
        if ($body !== null) {
            $lines[] = 'Content-Type: application/x-www-form-urlencoded';
            $lines[] = 'Content-Length: ' . strlen($body);
        }
        $started = microtime(true);
        fwrite($socket, implode("\r\n", $lines) . "\r\n\r\n" . ($body ?? ''));
        $raw = stream_get_contents($socket);
        fclose($socket);
        $elapsed = microtime(true) - $started;
        $response = Response::parse((string) $raw, $elapsed);
        foreach ($response->headers('set-cookie') as $line) {
            $this->takeCookie($line);
        }
        return $response;
    }

    private function takeCookie(string $line): void
    {
        $parts = explode(';', $line);
        [$name, $value] = array_map('trim', explode('=', array_shift($parts), 2)) + [1 => ''];
        foreach ($parts as $attribute) {
            [$k, $v] = array_map('trim', explode('=', $attribute, 2)) + [1 => ''];
            if (strcasecmp($k, 'Max-Age') === 0 && (int) $v <= 0) {
                unset($this->cookies[$name]);
                return;
            }
            if (strcasecmp($k, 'Expires') === 0 && strtotime($v) !== false && strtotime($v) < time()) {
                unset($this->cookies[$name]);
                return;
            }
        }
        $this->cookies[$name] = $value;
    }
}
