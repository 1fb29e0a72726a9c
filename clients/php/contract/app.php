<?php
// The contract app (plan: "The contract app") on PHP's own session API:
// session_start(), $_SESSION, session_regenerate_id(true) then
// $_SESSION['user_id'] for login, session_destroy() for logout; the
// Sessiond\Session helpers only where PHP has no word (flash, CSRF,
// devices, sign out others, password changed). Run by ./serve under
// `php -S` (this file is the router). Errors come back as JSON with the
// status of the shared HTTP mapping.

declare(strict_types=1);

require __DIR__ . '/../autoload.php';

use Sessiond\Client;
use Sessiond\Exception\SessiondException;
use Sessiond\Session;

function reply(mixed $body, int $status = 200): void
{
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION), "\n";
}

$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);
$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';

if ($path === '/health') {
    reply(['ok' => true]);  // touches no session: works while sessiond is down
    return;
}

$endpoint = getenv('SESSIOND_ENDPOINT') ?: Client::DEFAULT_ENDPOINT;
Session::register(new Client($endpoint), [
    'error_page' => static function (int $status, SessiondException $e): void {
        header('Content-Type: application/json');
        echo json_encode(['error' => $e->getErrorCode(), 'status' => $status]), "\n";
    },
    'log_level' => getenv('SESSIOND_LOG_LEVEL') ?: 'warning',
]);

$routes = [
    'GET /whoami' => static function (): void {
        session_start();
        reply(['user' => (string) ($_SESSION['user_id'] ?? '')]);
    },
    'GET /get' => static function (): void {
        session_start(['read_and_close' => true]);
        $key = (string) ($_GET['key'] ?? '');
        $present = array_key_exists($key, $_SESSION);
        reply(['present' => $present, 'value' => $present ? $_SESSION[$key] : null]);
    },
    'POST /set' => static function (): void {
        session_start();
        $_SESSION[(string) $_POST['key']] = json_decode((string) $_POST['value'], true, 512, JSON_THROW_ON_ERROR);
        $delay = (int) ($_POST['delay_ms'] ?? 0);
        if ($delay > 0) {
            usleep($delay * 1000);  // the commit happens after, at the end of the request
        }
        reply(['ok' => true]);
    },
    'POST /delete' => static function (): void {
        session_start();
        unset($_SESSION[(string) $_POST['key']]);
        reply(['ok' => true]);
    },
    'POST /login' => static function (): void {
        // PHP's login idiom: a new id first, then the user.
        session_start();
        session_regenerate_id(true);
        $_SESSION['user_id'] = (string) $_POST['user'];
        reply(['user' => $_SESSION['user_id']]);
    },
    'POST /logout' => static function (): void {
        session_start();
        $_SESSION = [];
        session_destroy();
        reply(['ok' => true]);
    },
    'POST /flash' => static function (): void {
        Session::flash((string) $_POST['message']);
        reply(['ok' => true]);
    },
    'GET /flashes' => static function (): void {
        reply(['messages' => Session::flashes()]);
    },
    'GET /csrf' => static function (): void {
        reply(['token' => Session::csrfToken(), 'header' => Session::CSRF_HEADER]);
    },
    'POST /rotate_csrf' => static function (): void {
        reply(['token' => Session::rotateCsrf()]);
    },
    'GET /devices' => static function (): void {
        $devices = [];
        foreach (Session::devices() as $d) {
            $devices[] = ['current' => $d->current, 'ip' => $d->ip, 'user_agent' => $d->userAgent,
                          'created_at' => $d->createdAt, 'authenticated_at' => $d->authenticatedAt,
                          'last_seen_at' => $d->lastSeenAt];
        }
        reply(['devices' => $devices]);
    },
    'POST /signout_others' => static function (): void {
        reply(['ended' => Session::signOutOtherLocations()]);
    },
    'POST /password_changed' => static function (): void {
        Session::passwordChanged();
        reply(['ok' => true]);
    },
    'POST /big' => static function (): void {
        session_start();
        $_SESSION['big'] = str_repeat('x', max(0, (int) $_POST['bytes']));
        reply(['ok' => true]);  // TOO_LARGE at the commit turns this into a 500
    },
];

$route = $routes["$method $path"] ?? null;
if ($route === null) {
    reply(['error' => 'NOT_FOUND'], 404);
    return;
}
$route();
