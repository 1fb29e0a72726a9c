<?php
// RequestSession: one web request's view of one browser's session on
// sessiond, the framework-neutral core under SessionHandler (as
// clients/python/sessiond/state.py is under the Flask and Pyramid layers).
//
// It loads lazily (the first use does the LOAD), keeps what was loaded as
// the base (key => stored string), and turns a request's end state into ONE
// COMMIT of only the keys that differ from that base (values compared, so
// in-place changes count and two parallel requests that change different
// keys both land; the whole session is never written back). The watched
// user key maps onto LOGIN (set to a new user) and LOGOUT (removed).
//
// Every server reply is adopted: its cookie becomes the current one and its
// Set-Cookie line goes to the response through the emitter (the newest line
// replaces older ones). An invalid, tampered, expired or revoked cookie is
// never an error here: the session is then new and empty (cookieError and
// revokedReason say why); Unavailable (Timeout, CircuitOpen, ShuttingDown)
// propagates.
//
// Owned by one request (PHP: one process runs one request at a time).

declare(strict_types=1);

namespace Sessiond;

use Sessiond\Exception\InvalidArgumentException;
use Sessiond\Exception\InvalidCookieException;
use Sessiond\Exception\LoginRequiredException;
use Sessiond\Exception\RevokedException;

final class RequestSession
{
    private const KEY_PATTERN = '/\A[\x21-\x7e]{1,128}\z/';

    private string $cookie;
    private bool $loaded = false;
    private ?SessionInfo $info = null;
    private int $baseVersion = 0;
    /** @var array<string, string> key => stored string, as the server has it */
    private array $raw = [];
    /** @var list<Flash> the server's queues, as last known */
    private array $serverFlash = [];
    /** @var list<array{0: string, 1: string}> [queue, message] to append at commit */
    private array $pendingFlash = [];
    private ?InvalidCookieException $cookieError = null;
    private bool $createdHere = false;

    /**
     * @param string $cookie the cookie value the browser sent ("" for none)
     * @param \Closure(string): void $emit receives each Set-Cookie value to send
     * @param \Closure(string, string): void $log receives (level, message)
     */
    public function __construct(
        private readonly Client $client,
        string $cookie,
        private readonly ?string $ip,
        private readonly ?string $userAgent,
        private readonly \Closure $emit,
        private readonly \Closure $log,
    ) {
        $this->cookie = $cookie;
    }

    /** Throws InvalidArgumentException unless $key is a valid sessiond data key. */
    public static function checkKey(string $key): void
    {
        if (preg_match(self::KEY_PATTERN, $key) !== 1) {
            throw new InvalidArgumentException(sprintf(
                'session key %s cannot be stored on sessiond: keys are 1-128 printable ASCII characters without spaces',
                json_encode($key, JSON_INVALID_UTF8_SUBSTITUTE)));
        }
    }

    // -- loading -------------------------------------------------------------

    /** LOADs on first use. An invalid cookie makes it a new, empty session; Unavailable propagates. */
    public function load(): void
    {
        if ($this->loaded) {
            return;
        }
        if ($this->cookie !== '') {
            try {
                $this->adopt($this->client->load($this->cookie, $this->ip, $this->userAgent));
            } catch (InvalidCookieException $e) {
                $this->forget($e);
            }
        }
        $this->loaded = true;
    }

    private function forget(InvalidCookieException $e): void
    {
        $this->cookieError = $e;
        ($this->log)('info', 'ignoring session cookie: ' . $e->getMessage()
                             . ($e instanceof RevokedException && $e->reason() !== '' ? ' (reason: ' . $e->reason() . ')' : ''));
        $this->reset();
    }

    private function reset(): void
    {
        $this->cookie = '';
        $this->info = null;
        $this->baseVersion = 0;
        $this->raw = [];
        $this->serverFlash = [];
        $this->createdHere = false;
    }

    /** Takes a server reply as the new base: cookie, version, data, flash. */
    private function adopt(SessionReply $reply): void
    {
        $this->cookie = $reply->cookie;
        if ($reply->setCookie !== '') {
            ($this->emit)($reply->setCookie);
        }
        $this->info = $reply->session;
        $this->baseVersion = $reply->session->version;
        $this->raw = $reply->session->data;
        $this->serverFlash = $reply->session->flash;
        if ($reply->session->new) {
            $this->createdHere = true;
        }
    }

    private function ensureCreated(): void
    {
        $this->load();
        if ($this->cookie === '') {
            $this->adopt($this->client->create($this->ip, $this->userAgent));
        }
    }

    // -- facts ---------------------------------------------------------------

    /** Whether a server-side session exists for this request now. */
    public function exists(): bool
    {
        $this->load();
        return $this->cookie !== '';
    }

    /** True when the session started (or will start) in this request. */
    public function isNew(): bool
    {
        $this->load();
        return $this->cookie === '' || $this->createdHere;
    }

    /** The logged-in user's id, or "" when anonymous. */
    public function userId(): string
    {
        $this->load();
        return $this->info?->userId ?? '';
    }

    /** The session as last received, or null when there is none. */
    public function info(): ?SessionInfo
    {
        $this->load();
        return $this->cookie === '' ? null : $this->info;
    }

    /** The cookie value the browser holds after this request ("" for none). */
    public function cookie(): string
    {
        return $this->cookie;
    }

    /** Why the browser's cookie was not taken (null when it was, or there was none). */
    public function cookieError(): ?InvalidCookieException
    {
        return $this->cookieError;
    }

    /** Why the browser's session was revoked ("logout", "password_changed", ...), or "". */
    public function revokedReason(): string
    {
        return $this->cookieError instanceof RevokedException ? $this->cookieError->reason() : '';
    }

    /** @return array<string, string> the base: key => stored string */
    public function raw(): array
    {
        $this->load();
        return $this->raw;
    }

    /** @return array<string, mixed> the base, decoded */
    public function values(): array
    {
        $this->load();
        return array_map([Values::class, 'decode'], $this->raw);
    }

    // -- changes -------------------------------------------------------------

    /**
     * What turns the base into $values: [key => encoded value to set], [keys to erase].
     * Throws InvalidArgumentException for a key sessiond cannot store.
     *
     * @return array{0: array<string, string>, 1: list<string>}
     */
    public function diff(array $values): array
    {
        $this->load();
        $set = [];
        foreach ($values as $key => $value) {
            $key = (string) $key;
            $stored = $this->raw[$key] ?? null;
            if ($stored === null) {
                self::checkKey($key);
                $set[$key] = Values::encode($value);
            } elseif (Values::changed($stored, $value, $encoded)) {
                $set[$key] = $encoded;
            }
        }
        $erase = [];
        foreach ($this->raw as $key => $_) {
            if (!array_key_exists($key, $values)) {
                $erase[] = (string) $key;
            }
        }
        return [$set, $erase];
    }

    /**
     * Ends the request's use of the session: $values is the request's final
     * data (e.g. $_SESSION). When $userKey is given, $values[$userKey] is
     * the user: set to a new user it commits as LOGIN first (then the rest
     * of the changes, on top of what LOGIN kept), removed (or emptied) while
     * someone is logged in it ends the session (LOGOUT) and carries the
     * remaining data into a fresh anonymous one. Sends at most one COMMIT
     * (CREATE first when there is no session yet and something to store).
     *
     * Throws ConflictException (nothing applied), TooLargeException,
     * InvalidArgumentException (a key or user id sessiond refuses),
     * UnavailableException. A session destroyed meanwhile is not an error:
     * it stays destroyed and the changes are dropped.
     */
    public function commitValues(array $values, ?string $userKey = null): void
    {
        $this->load();
        $user = null;  // null: the user is not touched
        $logout = false;
        if ($userKey !== null) {
            $present = array_key_exists($userKey, $values) && $values[$userKey] !== null && $values[$userKey] !== '';
            if ($present) {
                $user = self::userString($values[$userKey], $userKey);
            }
            unset($values[$userKey]);
            $current = $this->info?->userId ?? '';
            if ($present && $user === $current) {
                $user = null;
            }
            $logout = !$present && $current !== '';
        }
        [$set, $erase] = $this->diff($values);
        if ($user !== null) {
            $this->adopt($this->client->login($this->cookie, $user, $this->ip, $this->userAgent));
            // LOGIN keeps the data, or drops it when the session was another
            // user's: this request's own changes land on whatever it kept.
            $erase = array_values(array_filter($erase, fn (string $k): bool => isset($this->raw[$k])));
        } elseif ($logout) {
            $this->endSession();
            [$set, $erase] = [array_map([Values::class, 'encode'], $values), []];
            foreach (array_keys($set) as $key) {
                self::checkKey((string) $key);
            }
        }
        $this->commit($set, $erase);
    }

    /**
     * Sends one change set (plus this request's flash messages) as ONE
     * COMMIT, creating the session first when there is none.
     *
     * @param array<string, string> $set
     * @param list<string> $erase
     */
    public function commit(array $set, array $erase): void
    {
        $this->load();
        if ($this->cookie === '') {
            $erase = [];  // nothing to erase in a session that does not exist
        }
        if ($set === [] && $erase === [] && $this->pendingFlash === []) {
            return;
        }
        if ($this->cookie === '') {
            $this->adopt($this->client->create($this->ip, $this->userAgent));
        }
        try {
            $reply = $this->client->commit($this->cookie, $this->baseVersion, $set, $erase, $this->pendingFlash);
        } catch (InvalidCookieException $e) {
            ($this->log)('info', 'session ended during the request; its changes are dropped: ' . $e->getMessage());
            $this->cookieError = $e;
            $this->reset();
            $this->pendingFlash = [];
            return;
        }
        $this->pendingFlash = [];
        $this->adopt($reply);
    }

    private static function userString(mixed $value, string $userKey): string
    {
        if (is_int($value) || is_string($value)) {
            return (string) $value;
        }
        throw new InvalidArgumentException(sprintf('$_SESSION[%s] holds the user id: it must be a string or an int, not %s',
                                                   json_encode($userKey), get_debug_type($value)));
    }

    // -- flash ---------------------------------------------------------------

    /** Queues a flash message; the commit appends it. */
    public function flash(string $message, string $queue = ''): void
    {
        $this->load();
        $this->pendingFlash[] = [$queue, $message];
    }

    /** @return list<string> the queue's messages (as loaded, plus this request's), not removed */
    public function peekFlash(string $queue = ''): array
    {
        $this->load();
        $out = [];
        foreach ($this->serverFlash as $f) {
            if ($f->queue === $queue) {
                $out[] = $f->message;
            }
        }
        foreach ($this->pendingFlash as [$q, $m]) {
            if ($q === $queue) {
                $out[] = $m;
            }
        }
        return $out;
    }

    /** Whether there is anything to commit besides data (flash messages). */
    public function hasPendingFlash(): bool
    {
        return $this->pendingFlash !== [];
    }

    /**
     * Removes and returns the queue's messages, oldest first. The server-side
     * pop (FLASH) is atomic: each message reaches exactly one request even
     * when two race. It is skipped when the loaded session had nothing in
     * that queue (a message flashed meanwhile shows on the next request).
     *
     * @return list<string>
     */
    public function popFlash(string $queue = ''): array
    {
        $this->load();
        $messages = [];
        $has = false;
        foreach ($this->serverFlash as $f) {
            $has = $has || $f->queue === $queue;
        }
        if ($this->cookie !== '' && $has) {
            try {
                $result = $this->client->popFlash($this->cookie, $queue);
                array_push($messages, ...$result->messages);
                // Keep the loaded base and its version (the pop changed only
                // the queue; COMMIT must still see conflicts on keys since
                // the LOAD), but take the new cookie and the queues.
                $this->cookie = $result->reply->cookie;
                if ($result->reply->setCookie !== '') {
                    ($this->emit)($result->reply->setCookie);
                }
                $this->serverFlash = $result->reply->session->flash;
            } catch (InvalidCookieException) {
                $this->serverFlash = [];  // destroyed meanwhile: nothing to show
            }
        }
        $keep = [];
        foreach ($this->pendingFlash as [$q, $m]) {
            if ($q === $queue) {
                $messages[] = $m;
            } else {
                $keep[] = [$q, $m];
            }
        }
        $this->pendingFlash = $keep;
        return $messages;
    }

    // -- CSRF ----------------------------------------------------------------

    /** The session's CSRF token; creates the session when there is none (sessiond issues the token). */
    public function csrfToken(): string
    {
        $this->ensureCreated();
        return $this->info?->csrfToken ?? '';
    }

    /** Whether $token is this session's CSRF token (constant time). */
    public function checkCsrf(?string $token): bool
    {
        $this->load();
        if ($this->cookie === '' || $token === null || $token === '' || $this->info === null) {
            return false;
        }
        return hash_equals($this->info->csrfToken, $token);
    }

    /** CSRF_ROTATE: a new token (the session is created first if needed) -> the new token. */
    public function rotateCsrf(): string
    {
        $this->ensureCreated();
        $this->adoptKeepingBase($this->client->csrfRotate($this->cookie));
        return $this->info?->csrfToken ?? '';
    }

    // -- account verbs -------------------------------------------------------

    /** LOGIN now: call after authenticating. New id and CSRF token; data kept (dropped when it was another user's). */
    public function login(string $userId): void
    {
        $this->load();
        $this->adopt($this->client->login($this->cookie, $userId, $this->ip, $this->userAgent));
    }

    /**
     * REGENERATE: a new id and CSRF token for the same session (user, data,
     * flash kept). An anonymous session that does not exist yet has no id
     * to regenerate: nothing is sent.
     */
    public function regenerate(): void
    {
        $this->load();
        if ($this->cookie === '') {
            return;
        }
        try {
            $this->adopt($this->client->regenerate($this->cookie, $this->ip, $this->userAgent));
        } catch (InvalidCookieException $e) {
            $this->forget($e);
        }
    }

    /** LOGOUT: destroys the session; later changes in this request go to a new anonymous one. */
    public function logout(): void
    {
        $this->load();
        $this->endSession();
        $this->pendingFlash = [];
    }

    private function endSession(): void
    {
        if ($this->cookie !== '') {
            try {
                $reply = $this->client->logout($this->cookie);
                if ($reply->setCookie !== '') {
                    ($this->emit)($reply->setCookie);
                }
            } catch (InvalidCookieException) {
                // already gone
            }
        }
        $this->reset();
    }

    /** REVOKE_OTHERS -> how many other sessions ended (null when the server does not say). */
    public function revokeOthers(): ?int
    {
        $this->requireUser('sign out other locations');
        $result = $this->client->revokeOthers($this->cookie);
        if ($result->reply !== null) {
            $this->adoptKeepingBase($result->reply);
        }
        return $result->ended;
    }

    /** @return list<SessionInfo> LIST_SESSIONS: the user's sessions, this one first */
    public function listSessions(): array
    {
        $this->requireUser('list devices');
        return $this->client->listSessions($this->cookie);
    }

    /** BUMP_EPOCH (password changed): every other session and token of the user ends; this one is re-issued. */
    public function bumpEpoch(): void
    {
        $this->requireUser('record a password change');
        $this->adopt($this->client->bumpEpoch($this->cookie));
    }

    private function requireUser(string $what): void
    {
        $this->load();
        if ($this->cookie === '' || ($this->info?->userId ?? '') === '') {
            throw new LoginRequiredException("nobody is logged in: cannot $what");
        }
    }

    /** Adopts a reply that changed only the token or the cookie, not the data (keeps the base version). */
    private function adoptKeepingBase(SessionReply $reply): void
    {
        $version = $this->baseVersion;
        $raw = $this->raw;
        $this->adopt($reply);
        // CSRF_ROTATE and a client-mode REVOKE_OTHERS bump the version
        // without touching data: COMMIT may go on from the reply's version.
        if ($reply->session->data === $raw) {
            return;
        }
        $this->baseVersion = $version;
        $this->raw = $raw;
    }
}
