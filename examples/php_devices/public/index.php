<?php
// The "your devices" example on PHP's own sessions, stored on sessiond:
// sign in (password first, then session_regenerate_id(true) and
// $_SESSION['user_id'], PHP's idiom), see every browser signed in to the
// account, sign out all other locations, sign out. Served by ../run.sh
// with `php -S` (this file is the router). Every form carries the CSRF
// token; Session::register() refuses POSTs without it (403).

declare(strict_types=1);

require dirname(__DIR__, 3) . '/clients/php/autoload.php';
require dirname(__DIR__) . '/users.php';

use Sessiond\Client;
use Sessiond\Session;

Session::register(new Client(getenv('SESSIOND_ENDPOINT') ?: Client::DEFAULT_ENDPOINT));

function e(string $text): string
{
    return htmlspecialchars($text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

function redirect(string $to): void
{
    header('Location: ' . $to, true, 303);
}

/** A short "Browser on OS" label from a User-Agent header. */
function describe_device(string $ua): string
{
    $browser = 'Unknown browser';
    foreach (['Edg/' => 'Edge', 'HeadlessChrome' => 'Headless Chrome', 'Chrome/' => 'Chrome', 'Chromium/' => 'Chromium',
              'Firefox/' => 'Firefox', 'Safari/' => 'Safari', 'curl/' => 'curl'] as $token => $name) {
        if (str_contains($ua, $token)) {
            $browser = $name;
            break;
        }
    }
    foreach (['Android' => 'Android', 'iPhone' => 'iPhone', 'iPad' => 'iPad', 'Windows' => 'Windows',
              'Mac OS X' => 'macOS', 'CrOS' => 'ChromeOS', 'Linux' => 'Linux'] as $token => $name) {
        if (str_contains($ua, $token)) {
            return "$browser on $name";
        }
    }
    return $browser;
}

function ago(int $timestamp): string
{
    $s = max(0, time() - $timestamp);
    return match (true) {
        $s < 60 => 'just now',
        $s < 3600 => intdiv($s, 60) . ' min ago',
        $s < 86400 => intdiv($s, 3600) . ' h ago',
        default => intdiv($s, 86400) . ' days ago',
    };
}

function render(string $template, array $vars = []): void
{
    header('Content-Type: text/html; charset=utf-8');
    $flashes = array_merge(array_map(static fn ($m) => ['', $m], Session::flashes()),
                           array_map(static fn ($m) => ['error', $m], Session::flashes('error')));
    extract($vars);
    $csrf = Session::csrfToken();
    require dirname(__DIR__) . '/templates/layout.php';
}

session_start();
$user = (string) ($_SESSION['user_id'] ?? '');
$route = ($_SERVER['REQUEST_METHOD'] ?? 'GET') . ' ' . parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);

switch ($route) {
    case 'GET /':
        redirect($user !== '' ? '/devices' : '/login');
        break;
    case 'GET /login':
        if ($user !== '') {
            redirect('/devices');
            break;
        }
        render('login');
        break;
    case 'POST /login':
        $name = (string) ($_POST['user'] ?? '');
        if (!check_password($name, (string) ($_POST['password'] ?? ''))) {
            Session::flash('Wrong user name or password.', 'error');
            redirect('/login');
            break;
        }
        // Authenticated first, then a new session id, then the user.
        session_regenerate_id(true);
        $_SESSION['user_id'] = $name;
        Session::flash("Signed in as $name.");
        redirect('/devices');
        break;
    case 'POST /logout':
        $_SESSION = [];
        session_destroy();
        Session::flash('Signed out.');
        redirect('/login');
        break;
    case 'GET /devices':
        if ($user === '') {
            // A session that ended elsewhere says why (REVOKED's reason).
            Session::flash(match (Session::revokedReason()) {
                'signed_out_elsewhere' => 'You were signed out from another device. Please sign in again.',
                'password_changed' => 'Your password was changed. Please sign in again.',
                'admin' => 'An administrator signed you out. Please sign in again.',
                '' => 'Please sign in.',
                default => 'Your session ended. Please sign in again.',
            });
            redirect('/login');
            break;
        }
        render('devices', ['user' => $user, 'devices' => Session::devices()]);
        break;
    case 'POST /devices/sign-out-others':
        if ($user === '') {
            redirect('/login');
            break;
        }
        $ended = (int) Session::signOutOtherLocations();
        Session::flash($ended === 1 ? 'Signed out 1 other location.' : "Signed out $ended other locations.");
        redirect('/devices');
        break;
    default:
        http_response_code(404);
        render('missing');
}
