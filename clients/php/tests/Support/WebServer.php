<?php
// `php -S 127.0.0.1:PORT router.php` with workers, in its own process group
// (php -S leaves its workers running when only the master is signalled),
// for tests that drive a PHP app over real HTTP.

declare(strict_types=1);

namespace Sessiond\Tests\Support;

final class WebServer
{
    public readonly int $port;
    public readonly string $log;
    /** @var resource */
    private $process;
    private int $pid;

    /**
     * @param string $router the router script
     * @param array<string, string> $env extra environment (SESSIOND_ENDPOINT, ...)
     * @param list<string> $ini extra "-d" settings ("name=value")
     * @param list<string>|null $command a whole command instead (e.g. contract/serve php PORT; PORT is appended)
     */
    public function __construct(string $router, array $env = [], array $ini = [], int $workers = 4, ?array $command = null)
    {
        $this->port = self::freePort();
        $this->log = tempnam(sys_get_temp_dir(), 'php-s-log-');
        if ($command !== null) {
            $argv = array_merge(['setsid'], $command, [(string) $this->port]);
        } else {
            $argv = ['setsid', PHP_BINARY, '-d', 'display_errors=0', '-d', 'log_errors=1'];
            foreach ($ini as $setting) {
                array_push($argv, '-d', $setting);
            }
            array_push($argv, '-S', '127.0.0.1:' . $this->port, $router);
        }
        $environment = getenv() + [];
        $environment['PHP_CLI_SERVER_WORKERS'] = (string) $workers;
        foreach ($env as $k => $v) {
            $environment[$k] = $v;
        }
        $log = fopen($this->log, 'a');
        $this->process = proc_open($argv, [0 => ['file', '/dev/null', 'r'], 1 => $log, 2 => $log], $pipes, null, $environment);
        fclose($log);
        if (!is_resource($this->process)) {
            throw new \RuntimeException('cannot start php -S');
        }
        $this->pid = proc_get_status($this->process)['pid'];
        $deadline = microtime(true) + 10;
        while (true) {
            $socket = @stream_socket_client('tcp://127.0.0.1:' . $this->port, $errno, $errstr, 0.2);
            if ($socket !== false) {
                fclose($socket);
                break;
            }
            if (!proc_get_status($this->process)['running'] || microtime(true) > $deadline) {
                throw new \RuntimeException("php -S did not start:\n" . $this->logTail());
            }
            usleep(20000);
        }
    }

    public static function freePort(): int
    {
        $server = stream_socket_server('tcp://127.0.0.1:0', $errno, $errstr);
        $name = stream_socket_get_name($server, false);
        fclose($server);
        return (int) substr($name, strrpos($name, ':') + 1);
    }

    public function url(string $path = '/'): string
    {
        return 'http://127.0.0.1:' . $this->port . $path;
    }

    public function logTail(int $bytes = 4000): string
    {
        $text = @file_get_contents($this->log);
        return $text === false ? '' : substr($text, -$bytes);
    }

    public function logText(): string
    {
        return (string) @file_get_contents($this->log);
    }

    public function stop(): void
    {
        if (!is_resource($this->process)) {
            return;
        }
        posix_kill(-$this->pid, SIGTERM);  // the whole group: master and workers
        $deadline = microtime(true) + 5;
        while (proc_get_status($this->process)['running'] && microtime(true) < $deadline) {
            usleep(10000);
        }
        if (proc_get_status($this->process)['running']) {
            posix_kill(-$this->pid, SIGKILL);
        }
        proc_close($this->process);
        @unlink($this->log);
    }

    public function __destruct()
    {
        $this->stop();
    }
}
