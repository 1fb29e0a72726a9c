<?php
// SessionHandler: PHP's session save handler on sessiond, so that
// session_start() and $_SESSION work unchanged (docs/php.md). Install it
// with Session::register(), which also sets the ini values it relies on.
//
// How PHP's calls map onto sessiond:
//   validateId   (session.use_strict_mode) LOAD: only ids sessiond issued pass
//   read         the LOADed data, serialized for session.serialize_handler
//                = php_serialize (the watched user key mirrors user_id)
//   write        ONE COMMIT of the keys that differ from what read() gave
//                (LOGIN first when the user key got a new user, LOGOUT when
//                it was removed); nothing when nothing changed
//   updateTimestamp  (session.lazy_write, data unchanged) only this request's
//                flash messages, if any: LOAD already refreshed last_seen_at
//   destroy      from session_destroy(): LOGOUT; from
//                session_regenerate_id(true): nothing (create_sid regenerates)
//   create_sid   from session_regenerate_id(): REGENERATE (new id and CSRF
//                token, data kept); otherwise a provisional id: the session
//                is created on sessiond only when something is stored
//   gc           nothing: sessiond expires sessions itself
//
// PHP's session id is the cookie value with "_" written as "," (base64url
// -> PHP's id alphabet a-z A-Z 0-9 "," "-"), reversible. The handler sends
// the cookie itself (session.use_cookies = 0): sessiond renders the
// Set-Cookie line with the attributes HELLO announced, and the value
// changes at moments PHP cannot see (LOGIN at write(), rotation on LOAD,
// every change in client and hybrid mode).
//
// One object per request (PHP builds it anew every request).

declare(strict_types=1);

namespace Sessiond;

use Sessiond\Exception\ConfigurationException;
use Sessiond\Exception\SessiondException;
use Sessiond\Exception\UnavailableException;

final class SessionHandler implements \SessionHandlerInterface, \SessionUpdateTimestampHandlerInterface, \SessionIdInterface
{
    /** Largest cookie value taken from a browser (the whole Set-Cookie line is capped at 4096). */
    private const MAX_COOKIE_BYTES = 4096;
    private const FATAL = E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR | E_RECOVERABLE_ERROR;

    public readonly string $userKey;
    private ?string $cookieName;
    private readonly bool $commitOnError;
    private readonly ?\Closure $errorPage;
    private readonly \Closure $logger;
    private readonly int $logThreshold;
    private readonly ?string $ip;
    private readonly ?string $userAgent;

    private ?RequestSession $state = null;
    /** @var array<string, true> PHP ids that name $state's session in this request */
    private array $aliases = [];
    /** The id create_sid() just gave session_regenerate_id(), which asks validateId() once (collision check). */
    private ?string $regeneratedId = null;
    /** The string read() returned last (write() with the same string changed nothing). */
    private ?string $readString = null;
    /** An Unavailable met where PHP cannot take an exception (validateId, create_sid), thrown by read(). */
    private ?SessiondException $deferred = null;
    private ?string $setCookie = null;
    private bool $shutdownQueued = false;
    private bool $inShutdown = false;

    /**
     * @param array{
     *     user_key?: string, cookie_name?: string|null, commit_on_error?: bool,
     *     error_page?: callable|null, log?: callable|null, log_level?: string,
     *     ip?: string|null, user_agent?: string|null
     * } $options see Session::register()
     */
    public function __construct(private readonly Client $client, array $options = [])
    {
        $this->userKey = (string) ($options['user_key'] ?? 'user_id');
        $this->cookieName = $options['cookie_name'] ?? null;
        $this->commitOnError = (bool) ($options['commit_on_error'] ?? false);
        $page = $options['error_page'] ?? null;
        $this->errorPage = $page === null ? null : \Closure::fromCallable($page);
        $log = $options['log'] ?? null;
        $this->logger = $log === null
            ? static function (string $level, string $message): void {
                error_log("sessiond [$level]: $message");
            }
            : \Closure::fromCallable($log);
        $levels = ['debug' => 0, 'info' => 1, 'warning' => 2, 'error' => 3];
        $this->logThreshold = $levels[$options['log_level'] ?? 'warning'] ?? 2;
        $this->ip = array_key_exists('ip', $options) ? $options['ip'] : ($_SERVER['REMOTE_ADDR'] ?? null);
        $this->userAgent = array_key_exists('user_agent', $options) ? $options['user_agent']
                                                                     : ($_SERVER['HTTP_USER_AGENT'] ?? null);
    }

    public function client(): Client
    {
        return $this->client;
    }

    public function log(string $level, string $message): void
    {
        $levels = ['debug' => 0, 'info' => 1, 'warning' => 2, 'error' => 3];
        if (($levels[$level] ?? 3) >= $this->logThreshold) {
            ($this->logger)($level, $message);
        }
    }

    // -- PHP id <-> cookie ---------------------------------------------------

    /** The PHP session id of a cookie value: base64url with "_" written as ",". */
    public static function idForCookie(string $cookie): string
    {
        return strtr($cookie, '_', ',');
    }

    /** The cookie value of a PHP session id, or null when the id cannot be one. */
    public static function cookieForId(string $id): ?string
    {
        if ($id === '' || strlen($id) > self::MAX_COOKIE_BYTES || strspn($id, self::ID_ALPHABET) !== strlen($id)) {
            return null;
        }
        return strtr($id, ',', '_');
    }

    private const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789,-';

    // -- the cookie ----------------------------------------------------------

    /** Learns (or is told) the cookie name: set by Session::register() from HELLO. */
    public function setCookieName(string $name): void
    {
        $this->cookieName = $name;
    }

    public function cookieName(): ?string
    {
        return $this->cookieName;
    }

    /**
     * The session cookie the browser sent, read from the raw Cookie header:
     * PHP's $_COOKIE turns "." and " " in names into "_" and "[" into arrays.
     * "" when there is none or it cannot be a sessiond cookie (base64url, at most 4 KB).
     */
    public function incomingCookie(): string
    {
        if ($this->cookieName === null) {
            return '';
        }
        $value = null;
        $header = $_SERVER['HTTP_COOKIE'] ?? null;
        if (is_string($header)) {
            foreach (explode(';', $header) as $pair) {
                $eq = strpos($pair, '=');
                if ($eq !== false && trim(substr($pair, 0, $eq)) === $this->cookieName) {
                    $value = trim(substr($pair, $eq + 1));
                    break;  // the browser sends the most specific cookie first
                }
            }
        } else {
            $value = $_COOKIE[$this->cookieName] ?? null;
        }
        if (!is_string($value) || $value === '') {
            return '';
        }
        if (strlen($value) > self::MAX_COOKIE_BYTES || strspn($value, self::COOKIE_ALPHABET) !== strlen($value)) {
            $this->log('info', 'ignoring session cookie: BAD_ENCODING: not base64url');
            return '';
        }
        return $value;
    }

    private const COOKIE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

    /**
     * Sends a Set-Cookie value, replacing one sent earlier in this request
     * for the same cookie (every value sets the same cookie: the newest wins).
     */
    public function emitCookie(string $line): void
    {
        $name = substr($line, 0, (int) strpos($line, '='));
        if ($this->cookieName !== null && $name !== $this->cookieName) {
            // sessiond's configuration changed under the cached HELLO.
            $this->log('warning', "sessiond sent cookie '$name' but HELLO said '{$this->cookieName}'; asking HELLO again next request");
            $this->client->forgetHello();
        }
        $this->setCookie = $line;
        if (headers_sent($file, $lineNo)) {
            $this->log('error', "cannot send the session cookie: output started at $file:$lineNo "
                                . '(call session_start() or Session::register() before any output)');
            return;
        }
        $keep = [];
        $removed = false;
        foreach (headers_list() as $header) {
            if (stripos($header, 'Set-Cookie:') === 0) {
                $value = ltrim(substr($header, 11));
                if (str_starts_with($value, $name . '=')) {
                    $removed = true;
                    continue;
                }
                $keep[] = $value;
            }
        }
        if ($removed) {
            header_remove('Set-Cookie');
            foreach ($keep as $value) {
                header('Set-Cookie: ' . $value, false);
            }
        }
        header('Set-Cookie: ' . $line, false);
    }

    /** The newest Set-Cookie value this request sent, or null. */
    public function sentCookie(): ?string
    {
        return $this->setCookie;
    }

    // -- the request's session -----------------------------------------------

    /** This request's session, created (not loaded) on first use from the incoming cookie. */
    public function state(): RequestSession
    {
        if ($this->state === null) {
            $cookie = $this->incomingCookie();
            $this->state = $this->newState($cookie);
            if ($cookie !== '') {
                $this->aliases[self::idForCookie($cookie)] = true;
            }
        }
        return $this->state;
    }

    private function newState(string $cookie): RequestSession
    {
        return new RequestSession($this->client, $cookie, $this->ip, $this->userAgent,
                                  fn (string $line) => $this->emitCookie($line),
                                  fn (string $level, string $message) => $this->log($level, $message));
    }

    /** The PHP id of the current session: the mapped cookie, or a provisional id while none exists. */
    private function currentId(): string
    {
        $cookie = $this->state()->cookie();
        $id = $cookie !== '' ? self::idForCookie($cookie) : 'new,' . bin2hex(random_bytes(16));
        $this->aliases[$id] = true;
        return $id;
    }

    /** Makes $id this request's session: known aliases stay, any other id starts over from its cookie. */
    private function adoptId(string $id): RequestSession
    {
        if (!isset($this->aliases[$id])) {
            $this->state = $this->newState(self::cookieForId($id) ?? '');
            $this->aliases = [$id => true];
        }
        return $this->state();
    }

    // -- SessionHandlerInterface ---------------------------------------------

    public function open(string $path, string $name): bool
    {
        return true;
    }

    public function close(): bool
    {
        return true;
    }

    public function read(string $id): string|false
    {
        if ($this->deferred !== null) {
            $e = $this->deferred;
            $this->deferred = null;
            throw $e;
        }
        if (ini_get('session.serialize_handler') !== 'php_serialize') {
            throw new ConfigurationException("session.serialize_handler must be 'php_serialize' for sessiond (it is '"
                                             . ini_get('session.serialize_handler') . "'): Session::register() sets it");
        }
        $this->regeneratedId = null;
        $state = $this->adoptId($id);
        $state->load();
        $values = $state->values();
        $user = $state->userId();
        if ($user !== '') {
            $values[$this->userKey] = $user;
        }
        return $this->readString = serialize($values);
    }

    public function write(string $id, string $data): bool
    {
        $state = $this->adoptId($id);
        if ($this->discarding()) {
            $this->log('debug', 'response status ' . http_response_code() . ': the session changes are not committed');
            return true;
        }
        if ($data === $this->readString && !$state->hasPendingFlash()) {
            return true;  // nothing changed
        }
        $values = $data === '' ? [] : @unserialize($data);
        if (!is_array($values)) {
            return $this->failed(new ConfigurationException(
                'cannot decode the session data PHP handed to write(): session.serialize_handler must be php_serialize'));
        }
        try {
            $state->commitValues($values, $this->userKey);
        } catch (SessiondException $e) {
            return $this->failed($e);
        }
        $this->aliases[$this->currentId()] = true;
        $this->readString = null;
        return true;
    }

    public function destroy(string $id): bool
    {
        if (self::calledFrom('session_regenerate_id')) {
            return true;  // create_sid() moves the session (REGENERATE keeps its data)
        }
        $this->adoptId($id)->logout();
        $this->readString = null;
        return true;
    }

    public function gc(int $max_lifetime): int|false
    {
        return 0;  // sessiond expires sessions itself (absolute and idle timeouts)
    }

    // -- SessionIdInterface --------------------------------------------------

    public function create_sid(): string
    {
        if (self::calledFrom('session_regenerate_id')) {
            $state = $this->state();
            try {
                $state->regenerate();
            } catch (UnavailableException $e) {
                // PHP would bury an exception from here under "Failed to
                // create new session ID"; read() throws it instead.
                $this->deferred = $e;
            }
            $id = $this->currentId();
            $this->regeneratedId = $id;
            return $id;
        }
        if (self::calledFrom('session_create_id')) {
            // An id for the app's own bookkeeping: sessiond did not issue it,
            // so session_start() with it begins a new session.
            return 'new,' . bin2hex(random_bytes(16));
        }
        // session_start() without an id: the browser had no (valid) cookie,
        // or Session::register() could not learn the cookie name. Try again.
        if ($this->state === null && $this->cookieName === null) {
            try {
                $this->learnCookieName();
            } catch (UnavailableException $e) {
                $this->deferred = $e;
            }
        }
        if ($this->state === null) {
            $state = $this->state();
            try {
                $state->load();
            } catch (UnavailableException $e) {
                $this->deferred = $e;
            }
        }
        return $this->currentId();
    }

    // -- SessionUpdateTimestampHandlerInterface ------------------------------

    public function validateId(string $id): bool
    {
        if ($id === $this->regeneratedId) {
            // session_regenerate_id() asks whether the new id collides with
            // an existing session. It exists: REGENERATE just made it.
            $this->regeneratedId = null;
            return false;
        }
        if (isset($this->aliases[$id])) {
            return true;
        }
        if (self::cookieForId($id) === null) {
            $this->state = $this->newState('');
            $this->aliases = [];
            return false;
        }
        $state = $this->adoptId($id);
        try {
            $state->load();
        } catch (UnavailableException $e) {
            $this->deferred = $e;  // thrown by read(), which PHP calls next
            return true;
        }
        if (!$state->exists()) {
            $this->aliases = [];  // PHP asks create_sid() for a new id next
            return false;
        }
        return true;
    }

    public function updateTimestamp(string $id, string $data): bool
    {
        // lazy_write: the data is unchanged (LOAD refreshed last_seen_at);
        // only flash messages of this request may need committing.
        return $this->write($id, $data);
    }

    // -- end of request ------------------------------------------------------

    /** Registered by Session::register(): commits at the end of the request, before the output is flushed. */
    public function shutdown(): void
    {
        if (!$this->shutdownQueued) {
            // Run after the app's own shutdown functions too, which may still
            // use $_SESSION (PHP's own session_register_shutdown does the same).
            $this->shutdownQueued = true;
            register_shutdown_function([$this, 'shutdown']);
            return;
        }
        $this->inShutdown = true;
        if (session_status() === PHP_SESSION_ACTIVE) {
            session_write_close();
        }
    }

    /** Whether the request ended in an error (status >= 400 or a fatal error), whose changes are not kept. */
    private function discarding(): bool
    {
        if (!$this->inShutdown || $this->commitOnError) {
            return false;
        }
        $error = error_get_last();
        if ($error !== null && ($error['type'] & self::FATAL) !== 0) {
            return true;
        }
        $status = http_response_code();
        return is_int($status) && $status >= 400;
    }

    /**
     * A commit failed. At the end of the request the response (still
     * buffered) becomes the error page (503, 409, 500); during the request
     * (an explicit session_write_close()) the exception propagates.
     */
    private function failed(SessiondException $e): bool
    {
        $status = Http::statusFor($e) ?? 500;
        $this->log($status >= 500 && !$e instanceof UnavailableException ? 'error' : 'warning',
                   'commit failed, the session changes are lost: ' . $e->getMessage());
        if (!$this->inShutdown) {
            throw $e;
        }
        if (!Http::respond($e, $this->errorPage, $this->setCookie)) {
            $this->log('error', 'the response was already sent; it cannot report the failed commit');
        }
        return true;  // reported; PHP's own "Failed to write session data" would only add noise
    }

    /** Asks HELLO (cached) for the cookie name. */
    public function learnCookieName(): ?Hello
    {
        $hello = $this->client->cachedHello();
        if ($hello !== null) {
            $this->cookieName = $hello->cookieName;
        } elseif ($this->cookieName === null) {
            $this->cookieName = Session::FALLBACK_COOKIE_NAME;
        }
        return $hello;
    }

    /** Whether the PHP function that called into the handler is $function. */
    private static function calledFrom(string $function): bool
    {
        foreach (debug_backtrace(DEBUG_BACKTRACE_IGNORE_ARGS, 4) as $frame) {
            if (!isset($frame['class']) && ($frame['function'] ?? '') === $function) {
                return true;
            }
        }
        return false;
    }
}
