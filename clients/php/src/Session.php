<?php
// Session: installs the sessiond save handler for this request
// (Session::register, once, before session_start) and the helpers an app
// calls where PHP's session API has no word for it: current user, login,
// logout, flash (exactly once), CSRF token / check / rotate, "your devices",
// sign out all other locations, password changed.
//
//     require '/usr/share/php/Sessiond/autoload.php';   // or Composer's
//     use Sessiond\{Client, Session};
//     Session::register(new Client('ipc:///run/sessiond/app.sock'));
//     session_start();
//     $_SESSION['cart'][] = 42;            // committed at the end, alone
//     session_regenerate_id(true);         // REGENERATE
//     $_SESSION['user_id'] = 'alice';      // LOGIN at the commit
//
// Every helper starts the PHP session when it is not active. See
// docs/php.md for the ini values register() sets and why.

declare(strict_types=1);

namespace Sessiond;

use Sessiond\Exception\ConfigurationException;
use Sessiond\Exception\CsrfMismatchException;
use Sessiond\Exception\UnavailableException;

final class Session
{
    /** The cookie name used when the server is older than HELLO and the app names none. */
    public const FALLBACK_COOKIE_NAME = 'sessiond';
    public const CSRF_HEADER = 'X-CSRF-Token';
    public const CSRF_FIELD = 'csrf_token';
    private const UNSAFE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];

    private static ?SessionHandler $handler = null;

    /**
     * Installs sessiond as this request's session store. Call before
     * session_start() and before any output.
     *
     * Options:
     *   user_key     the $_SESSION key that holds the user id (default "user_id"):
     *                reading it gives sessiond's user, setting it logs in, removing it logs out
     *   cookie_name  the app's own name for the cookie; must match HELLO's (checked)
     *   csrf         true (default): POST/PUT/PATCH/DELETE need the session's CSRF
     *                token in the X-CSRF-Token header or the "csrf_token" field (403
     *                otherwise); false: the app checks (Session::requireCsrf());
     *                or a callable(): bool saying whether this request is checked
     *   error_handler  true (default): install Http::respond() as the exception
     *                handler for sessiond errors (503, 409, 403, 401, 500), chained
     *                to the handler that was there before
     *   error_page   callable(int $status, SessiondException $e): void renders error bodies
     *   commit_on_error  false (default): a response with status >= 400 (or a fatal
     *                error) commits nothing; true: commit anyway
     *   buffer       true (default): ob_start() so that a failed final commit can
     *                still turn the response into its error page
     *   log          callable(string $level, string $message): void (default error_log)
     *   log_level    "debug", "info", "warning" (default) or "error"
     *
     * Throws ConfigurationException when the app's cookie set-up contradicts
     * sessiond's, or the session is already active.
     */
    public static function register(Client $client, array $options = []): SessionHandler
    {
        if (session_status() === PHP_SESSION_ACTIVE) {
            throw new ConfigurationException('Session::register() must run before session_start() (and session.auto_start must be 0)');
        }
        $handler = new SessionHandler($client, $options);
        self::$handler = $handler;
        if ($options['error_handler'] ?? true) {
            self::installErrorHandler($handler, $options['error_page'] ?? null);
        }
        if ($options['buffer'] ?? true) {
            ob_start();
        }
        foreach ([
            'session.serialize_handler' => 'php_serialize',  // write() gets data it can decode and diff
            'session.use_strict_mode' => '1',    // only ids sessiond issued (validateId)
            'session.use_cookies' => '0',        // the handler sends sessiond's Set-Cookie itself
            'session.use_only_cookies' => '1',   // never an id from the URL or a form
            'session.use_trans_sid' => '0',
            'session.gc_probability' => '0',     // sessiond expires sessions itself
        ] as $name => $value) {
            if (ini_get($name) !== $value && ini_set($name, $value) === false) {
                throw new ConfigurationException("cannot set $name = $value (headers already sent?)");
            }
        }
        $helloError = null;
        try {
            $hello = $handler->learnCookieName();
        } catch (UnavailableException $e) {
            $helloError = $e;
            // Not fatal here: a page that never touches the session must still
            // work while sessiond is down. The session's first use retries.
            $handler->log('info', 'HELLO failed, the cookie name is learnt later: ' . $e->getMessage());
            $hello = null;
            if (isset($options['cookie_name'])) {
                $handler->setCookieName((string) $options['cookie_name']);
            }
        }
        if ($hello !== null) {
            self::reconcile($hello, $options['cookie_name'] ?? null, $handler);
        }
        session_set_save_handler($handler, false);
        register_shutdown_function([$handler, 'shutdown']);
        $cookie = $handler->incomingCookie();
        if ($cookie !== '') {
            session_id(SessionHandler::idForCookie($cookie));
        }
        $csrf = $options['csrf'] ?? true;
        if ((is_callable($csrf) ? $csrf() : (bool) $csrf)
            && in_array(strtoupper($_SERVER['REQUEST_METHOD'] ?? 'GET'), self::UNSAFE_METHODS, true)) {
            if ($helloError !== null && !isset($options['cookie_name'])) {
                throw $helloError;  // no cookie name, no token to check: 503, not 403
            }
            self::requireCsrf();
        }
        return $handler;
    }

    /**
     * HELLO is the one source of truth for the cookie: the app's own name for
     * it (cookie_name, or a session.name other than PHP's default) and any
     * cookie attribute it configured must agree with it, loudly otherwise;
     * then PHP's ini is set to HELLO's values so session_name() and
     * session_get_cookie_params() tell the truth.
     */
    private static function reconcile(Hello $hello, ?string $appName, SessionHandler $handler): void
    {
        $problems = [];
        $iniName = (string) ini_get('session.name');
        if ($appName !== null && $appName !== $hello->cookieName) {
            $problems[] = "the app names the session cookie '$appName' (cookie_name) but sessiond's cookie is '{$hello->cookieName}'";
        } elseif ($appName === null && $iniName !== 'PHPSESSID' && $iniName !== $hello->cookieName) {
            $problems[] = "session.name is '$iniName' but sessiond's cookie is '{$hello->cookieName}'";
        }
        $wanted = [
            'session.cookie_path' => $hello->cookiePath,
            'session.cookie_domain' => $hello->cookieDomain,
            'session.cookie_secure' => $hello->cookieSecure ? '1' : '0',
            'session.cookie_httponly' => $hello->cookieHttpOnly ? '1' : '0',
            'session.cookie_samesite' => $hello->cookieSameSite,
            'session.cookie_lifetime' => (string) $hello->cookieMaxAge,
        ];
        foreach ($wanted as $name => $value) {
            $now = (string) ini_get($name);
            // Only a value the app configured (other than PHP's default) can disagree.
            [$configured, $same] = match ($name) {
                'session.cookie_secure', 'session.cookie_httponly' => [self::iniBool($now), self::iniBool($now) === ($value === '1')],
                'session.cookie_samesite' => [$now !== '', strcasecmp($now, $value) === 0],
                'session.cookie_lifetime' => [(int) $now !== 0, (int) $now === (int) $value],
                'session.cookie_path' => [$now !== '/' && $now !== '', $now === $value],
                default => [$now !== '', $now === $value],
            };
            if ($configured && !$same) {
                $problems[] = "$name is '$now' but sessiond's cookie says '$value'";
            }
        }
        if ($problems !== []) {
            throw new ConfigurationException('sessiond: the cookie is configured in two places and they disagree: '
                . implode('; ', $problems) . ". sessiond's [cookie] table (HELLO) is the one that counts: "
                . 'change it there, or drop the app\'s setting.');
        }
        if ($iniName !== $hello->cookieName) {
            @ini_set('session.name', $hello->cookieName);  // refused for names PHP cannot hold; harmless
        }
        foreach ($wanted as $name => $value) {
            if ((string) ini_get($name) !== $value) {
                @ini_set($name, $value);
            }
        }
        if ($hello->cookieSecure && !self::isHttps()) {
            $store = $handler->client()->store();
            if ($store->acquire('warned-insecure-' . md5($handler->client()->endpoint), 3600.0)) {
                $handler->log('error', "sessiond's cookie '{$hello->cookieName}' is Secure but this request came over plain "
                    . 'http: browsers will not send it back, so every request starts a new session. For development '
                    . 'set [cookie] secure = false in sessiond.conf.');
            }
        }
    }

    private static function iniBool(string $value): bool
    {
        return filter_var($value, FILTER_VALIDATE_BOOLEAN);
    }

    private static function isHttps(): bool
    {
        $https = $_SERVER['HTTPS'] ?? '';
        return ($https !== '' && strtolower((string) $https) !== 'off')
            || strtolower((string) ($_SERVER['HTTP_X_FORWARDED_PROTO'] ?? '')) === 'https'
            || (string) ($_SERVER['SERVER_PORT'] ?? '') === '443';
    }

    private static function installErrorHandler(SessionHandler $handler, ?callable $page): void
    {
        $previous = null;
        $previous = set_exception_handler(static function (\Throwable $e) use (&$previous, $handler, $page): void {
            $status = Http::statusFor($e);
            if ($status !== null) {
                $error = Http::sessiondError($e);
                $handler->log($status >= 500 && $status !== 503 ? 'error' : ($status === 503 ? 'warning' : 'info'),
                              "answering $status: " . $error?->getMessage());
                if (Http::respond($e, $page, $handler->sentCookie())) {
                    return;
                }
            }
            if ($previous !== null) {
                $previous($e);
                return;
            }
            restore_exception_handler();
            throw $e;  // PHP's own "Uncaught ..." fatal error, as without us
        });
    }

    /** The handler register() installed. */
    public static function handler(): SessionHandler
    {
        if (self::$handler === null) {
            throw new \LogicException('sessiond: call Session::register() first');
        }
        return self::$handler;
    }

    /** Starts the PHP session when it is not active; returns the request's state. */
    private static function started(): RequestSession
    {
        $handler = self::handler();
        if (session_status() !== PHP_SESSION_ACTIVE) {
            if (!session_start()) {
                throw new \LogicException('sessiond: session_start() failed (output already sent?)');
            }
        }
        return $handler->state();
    }

    // -- the user ------------------------------------------------------------

    /** The logged-in user's id, or "" when anonymous. */
    public static function userId(): string
    {
        return self::started()->userId();
    }

    /**
     * Logs $userId in now (LOGIN): call after checking the password. New
     * session id and CSRF token; $_SESSION keeps its data (unless the session
     * was another user's: then only this request's changes stay).
     */
    public static function login(string|int $userId): void
    {
        $state = self::started();
        $handler = self::handler();
        self::rebase($state, static fn () => $state->login((string) $userId));
        $_SESSION[$handler->userKey] = (string) $userId;
    }

    /** Logs out (LOGOUT, as session_destroy()): $_SESSION is emptied; later writes start a new anonymous session. */
    public static function logout(): void
    {
        self::started();
        $_SESSION = [];
        session_destroy();
    }

    /** Why the browser's previous session was revoked ("password_changed", "signed_out_elsewhere", ...), or "". */
    public static function revokedReason(): string
    {
        return self::started()->revokedReason();
    }

    /** The session as sessiond last described it (null while none exists). */
    public static function info(): ?SessionInfo
    {
        return self::started()->info();
    }

    // -- flash ---------------------------------------------------------------

    /** Queues a flash message (committed with the request). */
    public static function flash(string $message, string $queue = ''): void
    {
        self::started()->flash($message, $queue);
    }

    /** @return list<string> pops the queue's messages: each is shown by exactly one request */
    public static function flashes(string $queue = ''): array
    {
        return self::started()->popFlash($queue);
    }

    /** @return list<string> the queue's messages without removing them */
    public static function peekFlashes(string $queue = ''): array
    {
        return self::started()->peekFlash($queue);
    }

    // -- CSRF ----------------------------------------------------------------

    /** The session's CSRF token (starts a session when there is none). */
    public static function csrfToken(): string
    {
        return self::started()->csrfToken();
    }

    /** The token this request presents: the X-CSRF-Token header, else the "csrf_token" form field. */
    public static function presentedToken(): ?string
    {
        $header = $_SERVER['HTTP_X_CSRF_TOKEN'] ?? null;
        if (is_string($header) && $header !== '') {
            return $header;
        }
        $field = $_POST[self::CSRF_FIELD] ?? null;
        return is_string($field) ? $field : null;
    }

    /** Whether $token (default: the one this request presents) is the session's CSRF token. */
    public static function checkCsrf(?string $token = null): bool
    {
        return self::handler()->state()->checkCsrf($token ?? self::presentedToken());
    }

    /** Throws CsrfMismatchException (HTTP 403) unless the request presents the session's token. */
    public static function requireCsrf(): void
    {
        if (!self::checkCsrf()) {
            throw new CsrfMismatchException('CSRF token missing or wrong');
        }
    }

    /** A new CSRF token (CSRF_ROTATE) -> the token. */
    public static function rotateCsrf(): string
    {
        return self::started()->rotateCsrf();
    }

    // -- account -------------------------------------------------------------

    /** @return list<SessionInfo> "your devices": the user's sessions, this one first; LoginRequiredException when anonymous */
    public static function devices(): array
    {
        return self::started()->listSessions();
    }

    /** Ends every other session of the user -> how many ended (null when the server does not say). */
    public static function signOutOtherLocations(): ?int
    {
        return self::started()->revokeOthers();
    }

    /** After a password change: every other session and token of the user ends (BUMP_EPOCH); this one goes on. */
    public static function passwordChanged(): void
    {
        $state = self::started();
        self::rebase($state, static fn () => $state->bumpEpoch());
    }

    /**
     * Runs a verb that replaces the session's base (LOGIN, BUMP_EPOCH) and
     * makes $_SESSION what the server kept plus this request's own changes.
     */
    private static function rebase(RequestSession $state, callable $verb): void
    {
        $handler = self::handler();
        $mine = $_SESSION ?? [];
        unset($mine[$handler->userKey]);
        [$set, $erase] = $state->diff($mine);
        $verb();
        $values = $state->values();
        foreach ($set as $key => $_) {
            $values[$key] = $mine[$key];
        }
        foreach ($erase as $key) {
            unset($values[$key]);
        }
        if ($state->userId() !== '') {
            $values[$handler->userKey] = $state->userId();
        }
        $_SESSION = $values;
    }
}
