<?php
// A real sessiond for tests, through the one launcher every language uses
// (`/usr/bin/python3 -m sessiond.testing`, clients/python): it prints one
// JSON line with the endpoints, then obeys stop / kill / start on stdin;
// closing stdin stops the daemon and removes its directory. The binary is
// $SESSIOND_BIN, else the newest build of this checkout (the launcher's rule).

declare(strict_types=1);

namespace Sessiond\Tests\Support;

final class Daemon
{
    public readonly string $endpoint;
    public readonly string $adminEndpoint;
    public readonly string $dir;
    public readonly string $log;
    /** The daemon's pid (changes with start()). */
    public int $pid;
    /** @var resource */
    private $process;
    /** @var array<int, resource> */
    private array $pipes = [];

    /**
     * @param list<string> $session "KEY=VALUE" for [session] (e.g. "mode=hybrid")
     * @param list<string> $cookie "KEY=VALUE" for [cookie] (e.g. "name=myapp")
     */
    public function __construct(array $session = [], array $cookie = [], bool $ipc = true, string $store = 'lmdb')
    {
        $repo = dirname(__DIR__, 4);
        $argv = ['/usr/bin/python3', '-m', 'sessiond.testing', '--store', $store];
        if ($ipc) {
            $argv[] = '--ipc';
        }
        foreach ($session as $kv) {
            array_push($argv, '--session', $kv);
        }
        foreach ($cookie as $kv) {
            array_push($argv, '--cookie', $kv);
        }
        $env = getenv();
        $env['PYTHONPATH'] = $repo . '/clients/python';
        $this->process = proc_open($argv, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => STDERR], $this->pipes, null, $env);
        if (!is_resource($this->process)) {
            throw new \RuntimeException('cannot start the sessiond launcher');
        }
        $line = fgets($this->pipes[1]);
        $info = is_string($line) ? json_decode($line, true) : null;
        if (!is_array($info) || !isset($info['endpoint'])) {
            throw new \RuntimeException('the sessiond launcher did not start a daemon: ' . var_export($line, true));
        }
        $this->endpoint = $info['endpoint'];
        $this->adminEndpoint = $info['admin_endpoint'];
        $this->dir = $info['dir'];
        $this->log = $info['log'];
        $this->pid = (int) $info['pid'];
    }

    /** @return array<string, mixed> the launcher's answer */
    private function command(string $command): array
    {
        fwrite($this->pipes[0], $command . "\n");
        fflush($this->pipes[0]);
        $line = fgets($this->pipes[1]);
        $answer = is_string($line) ? json_decode($line, true) : null;
        if (!is_array($answer) || !($answer['ok'] ?? false)) {
            throw new \RuntimeException("launcher command '$command' failed: " . var_export($line, true));
        }
        return $answer;
    }

    /** SIGTERM, waits for the exit. */
    public function stop(): void
    {
        $this->command('stop');
    }

    /** SIGKILL, as a crash. */
    public function kill(): void
    {
        $this->command('kill');
    }

    /** Starts it again on the same endpoint, data and keys; waits until it answers PING. */
    public function start(): void
    {
        $this->pid = (int) $this->command('start')['pid'];
    }

    /** Freezes the daemon (SIGSTOP): requests wait, unanswered, until resume(). */
    public function pause(): void
    {
        posix_kill($this->pid, SIGSTOP);
    }

    public function resume(): void
    {
        posix_kill($this->pid, SIGCONT);
    }

    public function logTail(int $bytes = 3000): string
    {
        $text = @file_get_contents($this->log);
        return $text === false ? '' : substr($text, -$bytes);
    }

    public function close(): void
    {
        if (is_resource($this->process)) {
            fclose($this->pipes[0]);
            fclose($this->pipes[1]);
            proc_close($this->process);
        }
    }

    public function __destruct()
    {
        $this->close();
    }
}
