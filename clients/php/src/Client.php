<?php
// Client: the SD1 app verbs over a ZeroMQ DEALER socket (Debian's php-zmq).
//
// Sockets: by default one persistent DEALER per process and endpoint (a
// php-fpm or `php -S` worker keeps it connected across requests, so a
// request pays no connect). A request sent while sessiond is down waits in
// the socket's queue until its deadline, and the rebuild at the deadline
// drops it, so it is never delivered, stale, when sessiond comes back.
// (Not ZMQ_IMMEDIATE: with it, a connection rebuilt while sessiond was
// frozen, SIGSTOP or a stalled host, could stay unattached for good after
// sessiond resumed, in libzmq 4.3.4, and the worker's every later request
// timed out; ClientTest's timeout test caught it.)
//
// Timeouts: every call (or exchange()) has one deadline for sending and for
// all of its replies (default 2 s). When it passes, the connection is torn
// down and rebuilt (disconnect and connect, which drops whatever is queued
// either way; a non-persistent socket is closed) and TimeoutException is
// thrown. Request ids carry a random per-object prefix, and a reply whose id
// nobody waits for is dropped, so a late reply can never answer a later
// request.
//
// Fast failure: a CircuitBreaker (shared by every request of the machine
// through Shared\Store) fails calls at once while sessiond is down.
//
// PHP runs one request per process at a time (NTS): a Client is not meant
// to be shared by threads. Fork before the first call, not after.

declare(strict_types=1);

namespace Sessiond;

use Sessiond\Exception\ProtocolException;
use Sessiond\Exception\SessiondException;
use Sessiond\Exception\TimeoutException;
use Sessiond\Exception\UnavailableException;
use Sessiond\Exception\UnknownVerbException;
use Sessiond\Shared\Store;
use Sessiond\Shared\Stores;

class Client
{
    /**
     * sessiond's own default app socket (a socket file in its data directory,
     * relative to the directory both were started in). In production name it:
     * ipc:///run/sessiond/app.sock (the systemd unit), or tcp://HOST:PORT with
     * the CURVE keys (sessiond serves tcp with CURVE only).
     */
    public const DEFAULT_ENDPOINT = 'ipc://sessiond-data/app.sock';
    public const DEFAULT_TIMEOUT = 2.0;
    /** How long a HELLO answer is trusted before it is asked again. */
    public const HELLO_TTL = 60.0;

    public readonly string $endpoint;
    public readonly float $timeout;
    private readonly bool $persistent;
    /** @var array{0: string, 1: string, 2: string}|null server, public, secret key (binary) */
    private readonly ?array $curve;
    private readonly Store $store;
    private readonly ?CircuitBreaker $breaker;
    private ?\ZMQSocket $socket = null;
    private string $idPrefix;
    private int $nextId = 0;

    /**
     * @param string $endpoint the app socket, e.g. "ipc:///run/sessiond/app.sock"
     * @param float $timeout seconds one call (or one exchange()) may take in all
     * @param array{
     *     curve_server_key?: string, curve_public_key?: string, curve_secret_key?: string,
     *     persistent?: bool, breaker?: bool, store?: Store|string, state_dir?: string
     * } $options CURVE keys in Z85 (all three or none); persistent: keep the
     *     socket across requests (default true); breaker: fail fast while
     *     sessiond is down (default true); store: a Shared\Store, or "auto",
     *     "apcu", "file", "memory" (default "auto"); state_dir: FileStore directory
     */
    public function __construct(string $endpoint = self::DEFAULT_ENDPOINT, float $timeout = self::DEFAULT_TIMEOUT,
                                array $options = [])
    {
        if ($timeout <= 0) {
            throw new \InvalidArgumentException('sessiond: timeout must be positive');
        }
        $keys = [$options['curve_server_key'] ?? null, $options['curve_public_key'] ?? null,
                 $options['curve_secret_key'] ?? null];
        $given = count(array_filter($keys, static fn ($k) => $k !== null && $k !== ''));
        if ($given !== 0 && $given !== 3) {
            throw new \InvalidArgumentException('sessiond: CURVE needs server, public and secret key');
        }
        $this->endpoint = $endpoint;
        $this->timeout = $timeout;
        $this->persistent = (bool) ($options['persistent'] ?? true);
        $this->curve = $given === 3 ? array_map([self::class, 'curveKey'], $keys) : null;
        $store = $options['store'] ?? 'auto';
        $this->store = $store instanceof Store ? $store : Stores::open((string) $store, $options['state_dir'] ?? null);
        $this->breaker = ($options['breaker'] ?? true) ? new CircuitBreaker($this->store, $endpoint) : null;
        $this->idPrefix = bin2hex(random_bytes(6)) . '.';
    }

    public function store(): Store
    {
        return $this->store;
    }

    public function breaker(): ?CircuitBreaker
    {
        return $this->breaker;
    }

    // -- the app verbs -------------------------------------------------------

    /** PING -> "PONG". */
    public function ping(): string
    {
        return $this->run('PING', [], [Protocol::class, 'parseText']);
    }

    /** VERSION -> "sessiond 0.1.0-...". */
    public function version(): string
    {
        return $this->run('VERSION', [], [Protocol::class, 'parseText']);
    }

    /** HELLO -> the protocol, mode, cookie name and attributes, limits. */
    public function hello(): Hello
    {
        return $this->run('HELLO', [], [Protocol::class, 'parseHello']);
    }

    /**
     * HELLO, cached for HELLO_TTL seconds in the shared store (so a PHP
     * app asks once a minute, not once a request). Null when the server is
     * older than HELLO (UNKNOWN_VERB). Throws UnavailableException.
     */
    public function cachedHello(): ?Hello
    {
        $key = 'hello-' . substr(hash('sha256', $this->endpoint), 0, 24);
        $raw = $this->store->get($key);
        if (is_array($raw)) {
            if ($raw === ['unknown' => true]) {
                return null;
            }
            try {
                return Hello::fromArray($raw);
            } catch (ProtocolException) {
                // fall through and ask again
            }
        }
        try {
            $hello = $this->hello();
        } catch (UnknownVerbException) {
            $this->store->set($key, ['unknown' => true], self::HELLO_TTL);
            return null;
        }
        $this->store->set($key, $hello->raw, self::HELLO_TTL);
        return $hello;
    }

    /** Forgets the cached HELLO (e.g. when a reply names another cookie). */
    public function forgetHello(): void
    {
        $this->store->delete('hello-' . substr(hash('sha256', $this->endpoint), 0, 24));
    }

    /** CREATE: a new anonymous session (reply->session->new is true). */
    public function create(?string $ip = null, ?string $userAgent = null): SessionReply
    {
        return $this->run('CREATE', [Protocol::metadataFrame($ip, $userAgent)], [Protocol::class, 'parseSession']);
    }

    /**
     * LOAD. Throws an InvalidCookieException subclass when the cookie is no
     * live session (treat the request as anonymous), UnavailableException
     * when sessiond cannot answer.
     */
    public function load(string $cookie, ?string $ip = null, ?string $userAgent = null): SessionReply
    {
        $args = [$cookie];
        $meta = Protocol::metadataFrame($ip, $userAgent);
        if ($meta !== null) {
            $args[] = $meta;
        }
        return $this->run('LOAD', $args, [Protocol::class, 'parseSession']);
    }

    /**
     * COMMIT one change set atomically.
     *
     * @param array<string, string> $set keys to write (values are strings on the wire)
     * @param list<string> $erase keys to remove
     * @param list<Flash|array{0: string, 1: string}> $flash messages to append: Flash or [queue, message]
     * Throws ConflictException (a key changed since $baseVersion; nothing
     * applied), RevokedException (destroyed meanwhile), TooLargeException,
     * InvalidArgumentException.
     */
    public function commit(string $cookie, int $baseVersion, array $set = [], array $erase = [],
                           array $flash = []): SessionReply
    {
        $change = ['base_version' => $baseVersion];
        if ($set !== []) {
            $change['set'] = (object) array_map('strval', $set);
        }
        if ($erase !== []) {
            $change['erase'] = array_values(array_map('strval', $erase));
        }
        if ($flash !== []) {
            $change['flash'] = array_map(static function ($f): array {
                if ($f instanceof Flash) {
                    return ['queue' => $f->queue, 'message' => $f->message];
                }
                return ['queue' => (string) $f[0], 'message' => (string) $f[1]];
            }, array_values($flash));
        }
        return $this->run('COMMIT', [$cookie, Protocol::jsonFrame($change)], [Protocol::class, 'parseSession']);
    }

    /**
     * LOGIN: call after authenticating the user. A new id, the user set, a
     * new CSRF token, the data kept; an empty or invalid cookie starts a new
     * logged-in session. Throws InvalidArgumentException for a bad user id.
     */
    public function login(string $cookie, string $userId, ?string $ip = null, ?string $userAgent = null): SessionReply
    {
        $args = [$cookie, $userId];
        $meta = Protocol::metadataFrame($ip, $userAgent);
        if ($meta !== null) {
            $args[] = $meta;
        }
        return $this->run('LOGIN', $args, [Protocol::class, 'parseSession']);
    }

    /**
     * REGENERATE: a new id (server, hybrid) and CSRF token for the same
     * session, user, data and flash kept; the old cookie stops working.
     */
    public function regenerate(string $cookie, ?string $ip = null, ?string $userAgent = null): SessionReply
    {
        $args = [$cookie];
        $meta = Protocol::metadataFrame($ip, $userAgent);
        if ($meta !== null) {
            $args[] = $meta;
        }
        return $this->run('REGENERATE', $args, [Protocol::class, 'parseSession']);
    }

    /** LOGOUT: destroys the session; the reply's Set-Cookie deletes the cookie. */
    public function logout(string $cookie): LogoutReply
    {
        return $this->run('LOGOUT', [$cookie], [Protocol::class, 'parseLogout']);
    }

    /** FLASH: removes and returns one queue's messages; each exactly once, even under races (server mode). */
    public function popFlash(string $cookie, string $queue = ''): FlashReply
    {
        return $this->run('FLASH', [$cookie, $queue], [Protocol::class, 'parseFlash']);
    }

    /** CSRF_CHECK: returns when $token is the session's; throws CsrfMismatchException otherwise. */
    public function csrfCheck(string $cookie, string $token): void
    {
        $this->run('CSRF_CHECK', [$cookie, $token], [Protocol::class, 'parseNothing']);
    }

    /** CSRF_ROTATE: a new CSRF token (and, in client and hybrid mode, a new cookie). */
    public function csrfRotate(string $cookie): SessionReply
    {
        return $this->run('CSRF_ROTATE', [$cookie], [Protocol::class, 'parseSession']);
    }

    /** REVOKE_OTHERS ("sign out all other locations"). InvalidArgumentException when anonymous. */
    public function revokeOthers(string $cookie): RevokeOthersReply
    {
        return $this->run('REVOKE_OTHERS', [$cookie], [Protocol::class, 'parseRevokeOthers']);
    }

    /** @return list<SessionInfo> LIST_SESSIONS ("your devices"): the current one first, then newest sign-in first */
    public function listSessions(string $cookie): array
    {
        return $this->run('LIST_SESSIONS', [$cookie], [Protocol::class, 'parseSessionList']);
    }

    /** BUMP_EPOCH (password changed): every other session and token of the user ends; this one is re-issued. */
    public function bumpEpoch(string $cookie): SessionReply
    {
        return $this->run('BUMP_EPOCH', [$cookie], [Protocol::class, 'parseSession']);
    }

    // Device-bound sessions (docs/dbsc.md): server and hybrid mode (client
    // mode throws InvalidArgumentException, details reason "client_mode").
    // A refused proof throws with details "proof" (the reason); a binding
    // the session does not have NotFoundException, reason "no_binding".

    /**
     * DBSC_OFFER: a registration challenge -> ["header" (the
     * Secure-Session-Registration value), "challenge", "expires_at"].
     *
     * @param list<string>|null $algorithms
     * @return array<string, mixed>
     */
    public function dbscOffer(string $cookie, ?string $path = null, ?array $algorithms = null,
                              bool $authorization = false): array
    {
        $options = [];
        if ($path !== null) {
            $options['path'] = $path;
        }
        if ($algorithms !== null) {
            $options['algorithms'] = $algorithms;
        }
        if ($authorization) {
            $options['authorization'] = true;
        }
        $args = [$cookie];
        if ($options !== []) {
            $args[] = Protocol::jsonFrame($options);
        }
        return $this->run('DBSC_OFFER', $args, [Protocol::class, 'parseJsonObject']);
    }

    /**
     * DBSC_REGISTER: checks the proof (the Secure-Session-Response value) and
     * binds the session to its key; $binding['instructions'] answers the browser.
     *
     * @param array<string, mixed> $options url, refresh_url, origin, include_site, exclude
     */
    public function dbscRegister(string $cookie, string $proof, array $options = []): DbscReply
    {
        $args = [$cookie, $proof];
        if ($options !== []) {
            $args[] = Protocol::jsonFrame($options);
        }
        return $this->run('DBSC_REGISTER', $args, [Protocol::class, 'parseDbsc']);
    }

    /**
     * DBSC_CHALLENGE: a refresh challenge -> ["header" (the
     * Secure-Session-Challenge value), "challenge", "expires_at"]. The cookie
     * may be past its bound lifetime.
     *
     * @return array<string, mixed>
     */
    public function dbscChallenge(string $cookie, string $dbscId): array
    {
        return $this->run('DBSC_CHALLENGE', [$cookie, $dbscId], [Protocol::class, 'parseJsonObject']);
    }

    /** DBSC_REFRESH: checks a refresh proof with the stored key; the session cookie is re-issued. */
    public function dbscRefresh(string $cookie, string $dbscId, string $proof, ?string $url = null): DbscReply
    {
        $args = [$cookie, $dbscId, $proof];
        if ($url !== null) {
            $args[] = Protocol::jsonFrame(['url' => $url]);
        }
        return $this->run('DBSC_REFRESH', $args, [Protocol::class, 'parseDbsc']);
    }

    /** DBSC_END: ends the device-bound session and the session, as LOGOUT. */
    public function dbscEnd(string $cookie): LogoutReply
    {
        return $this->run('DBSC_END', [$cookie], [Protocol::class, 'parseLogout']);
    }

    /**
     * IMPORT: an old framework cookie ($format 'flask', 'pyramid', 'django' or
     * 'rails'; the value as the browser sent it), verified as that framework
     * does, becomes a sessiond session. The same cookie again answers the same
     * session (created() false). Throws the framework's refusal (an
     * InvalidCookieException subclass, getDetails()['reason']),
     * AlreadyImportedException once that session ended,
     * InvalidArgumentException for a format sessiond has no [import.<format>] for.
     */
    public function importCookie(string $format, string $cookie, ?string $ip = null,
                                 ?string $userAgent = null): ImportReply
    {
        $args = [$format, $cookie];
        $meta = Protocol::metadataFrame($ip, $userAgent);
        if ($meta !== null) {
            $args[] = $meta;
        }
        return $this->run('IMPORT', $args, [Protocol::class, 'parseImport']);
    }

    /** EXPORT: the cookie's session as the old framework's cookie (the way back, for a rollback day). */
    public function exportCookie(string $format, string $cookie): ExportReply
    {
        return $this->run('EXPORT', [$format, $cookie], [Protocol::class, 'parseExport']);
    }

    /**
     * LOAD and FLASH in one round trip -> [SessionReply after the pop, messages].
     * Throws as load() does.
     *
     * @return array{0: SessionReply, 1: list<string>}
     */
    public function loadAndPopFlash(string $cookie, string $queue = ''): array
    {
        [$loaded, $popped] = $this->exchange([['LOAD', [$cookie]], ['FLASH', [$cookie, $queue]]]);
        Protocol::results($loaded);  // the LOAD error explains FLASH's
        $flash = Protocol::parseFlash(Protocol::results($popped), 'FLASH');
        return [$flash->reply, $flash->messages];
    }

    /**
     * A raw request, for verbs newer than this client: its OK result frames,
     * or the reply's error thrown.
     *
     * @return list<string>
     */
    public function call(string $verb, string|int|null ...$args): array
    {
        [$frames] = $this->exchange([[$verb, $args]]);
        return Protocol::results($frames);
    }

    // -- transport -----------------------------------------------------------

    private function run(string $verb, array $args, callable $parser): mixed
    {
        [$frames] = $this->exchange([[$verb, $args]]);
        return $parser(Protocol::results($frames), $verb);
    }

    /**
     * Sends several requests at once and waits for all their replies.
     *
     * @param list<array{0: string, 1: list<string|int|null>}> $requests [verb, args] pairs
     * @return list<list<string>> the raw reply frames of each, in request order
     * Throws TimeoutException when a reply is missing at the deadline (the
     * connection is then rebuilt), CircuitOpenException while sessiond is
     * known to be down, UnavailableException for a ZeroMQ failure,
     * TooLargeException for a request over a protocol limit.
     */
    public function exchange(array $requests): array
    {
        $messages = [];
        $pending = [];
        foreach (array_values($requests) as $index => [$verb, $args]) {
            $id = $this->idPrefix . (++$this->nextId);
            $messages[] = Protocol::encodeRequest($id, $verb, array_values($args));
            $pending[$id] = $index;
        }
        $timeout = $this->breaker?->admit($this->timeout) ?? $this->timeout;
        $deadline = microtime(true) + $timeout;
        $replies = [];
        try {
            $socket = $this->socket();
            foreach ($messages as $frames) {
                $this->send($socket, $frames, $deadline, $timeout);
            }
            while ($pending !== []) {
                $frames = $this->receive($socket, $deadline, $timeout);
                $id = Protocol::replyId($frames);
                if ($id !== null && isset($pending[$id])) {
                    $replies[$pending[$id]] = $frames;
                    unset($pending[$id]);
                }
                // else: a late reply to a request that timed out; dropped.
            }
        } catch (TimeoutException $e) {
            $this->rebuild();
            $this->breaker?->failed();
            throw $e;
        } catch (\ZMQException $e) {
            $this->rebuild();
            $this->breaker?->failed();
            throw new UnavailableException('ZeroMQ: ' . $e->getMessage(), null, [], $e);
        } catch (\Throwable $e) {
            $this->breaker?->abandoned();
            throw $e;
        }
        $this->breaker?->succeeded();
        ksort($replies);
        return $replies;
    }

    private function socket(): \ZMQSocket
    {
        if ($this->socket !== null) {
            return $this->socket;
        }
        $setUp = function (\ZMQSocket $socket): void {
            $socket->setSockOpt(\ZMQ::SOCKOPT_LINGER, 0);
            // Reconnect every 100 ms, without growing: a persistent socket
            // lives through an outage and must find sessiond soon after it returns.
            $socket->setSockOpt(\ZMQ::SOCKOPT_RECONNECT_IVL, 100);
            $socket->setSockOpt(\ZMQ::SOCKOPT_RECONNECT_IVL_MAX, 0);
            // libzmq parses an IPv6 address (tcp://[::1]:5555) only with IPV6 set.
            if (str_starts_with($this->endpoint, 'tcp://[')) {
                $socket->setSockOpt(\ZMQ::SOCKOPT_IPV6, 1);
            }
            if ($this->curve !== null) {
                $socket->setSockOpt(\ZMQ::SOCKOPT_CURVE_SERVERKEY, $this->curve[0]);
                $socket->setSockOpt(\ZMQ::SOCKOPT_CURVE_PUBLICKEY, $this->curve[1]);
                $socket->setSockOpt(\ZMQ::SOCKOPT_CURVE_SECRETKEY, $this->curve[2]);
            }
            $socket->connect($this->endpoint);
        };
        try {
            // Always the process's persistent context: a per-request context
            // would be terminated at the end of the request, and PHP frees
            // objects in creation order then (context before socket), so
            // zmq_term would wait forever for the socket still open.
            $context = new \ZMQContext(1, true);
            if ($this->persistent) {
                $id = 'sessiond:' . hash('sha256', $this->endpoint . "\0" . ($this->curve[1] ?? '')
                                                 . "\0" . ($this->curve[0] ?? ''));
                $this->socket = new \ZMQSocket($context, \ZMQ::SOCKET_DEALER, $id,
                                               static fn (\ZMQSocket $s) => $setUp($s));
            } else {
                $this->socket = new \ZMQSocket($context, \ZMQ::SOCKET_DEALER);
                $setUp($this->socket);
            }
        } catch (\ZMQException $e) {
            $this->socket = null;
            throw $e;
        }
        return $this->socket;
    }

    /** Drops what the connection holds either way; the next call starts clean. */
    private function rebuild(): void
    {
        if ($this->socket === null) {
            return;
        }
        if ($this->persistent) {
            try {
                $this->socket->disconnect($this->endpoint);
                $this->socket->connect($this->endpoint);
            } catch (\ZMQException) {
                // connect() is retried by ZeroMQ itself; nothing else to do
            }
        } else {
            $this->socket = null;  // closed (LINGER 0) when the object goes
        }
    }

    /** @param list<string> $frames */
    private function send(\ZMQSocket $socket, array $frames, float $deadline, float $timeout): void
    {
        while ($socket->sendMulti($frames, \ZMQ::MODE_DONTWAIT) === false) {
            // High-water mark: wait for room.
            if (!$this->wait($socket, \ZMQ::POLL_OUT, $deadline)) {
                throw new TimeoutException(sprintf('could not send to %s within %.3gs', $this->endpoint, $timeout));
            }
        }
    }

    /** @return list<string> */
    private function receive(\ZMQSocket $socket, float $deadline, float $timeout): array
    {
        while (true) {
            $frames = $socket->recvMulti(\ZMQ::MODE_DONTWAIT);
            if ($frames !== false) {
                return $frames;
            }
            if (!$this->wait($socket, \ZMQ::POLL_IN, $deadline)) {
                throw new TimeoutException(sprintf('no reply from %s within %.3gs', $this->endpoint, $timeout));
            }
        }
    }

    private function wait(\ZMQSocket $socket, int $events, float $deadline): bool
    {
        $remaining = $deadline - microtime(true);
        if ($remaining <= 0) {
            return false;
        }
        $poll = new \ZMQPoll();
        $poll->add($socket, $events);
        $readable = $writable = [];
        return $poll->poll($readable, $writable, (int) ceil($remaining * 1000)) > 0;
    }

    private static function curveKey(string $key): string
    {
        if (strlen($key) === 32) {
            return $key;
        }
        $binary = \ZMQ::z85Decode($key);
        if (!is_string($binary) || strlen($binary) !== 32) {
            throw new \InvalidArgumentException('sessiond: a CURVE key must be 40 characters of Z85');
        }
        return $binary;
    }
}
