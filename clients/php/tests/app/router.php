<?php
// A PHP app for the handler tests, served by `php -S` (this file is the
// router): each route uses PHP's own session API the way apps do, so the
// tests see what an app sees. Set-up from the environment:
//   SESSIOND_ENDPOINT   the app socket
//   APP_OPTIONS         JSON merged into Session::register()'s options
//   APP_INI             JSON {name: value} of ini_set() calls made before register()
//   APP_STORE           the shared store kind (auto, apcu, file, memory)
//   APP_STATE_DIR       the FileStore directory
//   APP_TIMEOUT         the client timeout in seconds
//   APP_PERSISTENT      "0": a new ZeroMQ socket every request

declare(strict_types=1);

require dirname(__DIR__, 2) . '/autoload.php';

use Sessiond\Client;
use Sessiond\Exception\SessiondException;
use Sessiond\Session;

function reply(mixed $body, int $status = 200): void
{
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($body, JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION), "\n";
}

$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);
if ($path === '/health') {
    reply(['ok' => true, 'apcu' => function_exists('apcu_enabled') && apcu_enabled()]);
    return;
}

foreach (json_decode(getenv('APP_INI') ?: '{}', true) as $name => $value) {
    ini_set($name, (string) $value);
}
$clientOptions = ['store' => getenv('APP_STORE') ?: 'auto', 'persistent' => getenv('APP_PERSISTENT') !== '0'];
if (getenv('APP_STATE_DIR')) {
    $clientOptions['state_dir'] = getenv('APP_STATE_DIR');
}
$client = new Client((string) getenv('SESSIOND_ENDPOINT'), (float) (getenv('APP_TIMEOUT') ?: 2.0), $clientOptions);
$options = ['csrf' => false, 'log_level' => 'info',
            'error_page' => static function (int $status, SessiondException $e): void {
                header('Content-Type: application/json');
                echo json_encode(['error' => $e->getErrorCode(), 'message' => $e->getMessage()]), "\n";
            }];
Session::register($client, array_merge($options, json_decode(getenv('APP_OPTIONS') ?: '{}', true)));

$p = $_POST + $_GET;
switch ($path) {
    case '/count':  // the classic: read, change, write back
        session_start();
        $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
        reply(['n' => $_SESSION['n'], 'id' => session_id()]);
        break;
    case '/all':
        session_start(['read_and_close' => true]);
        reply(['session' => $_SESSION, 'id' => session_id(), 'name' => session_name(),
               'params' => session_get_cookie_params()]);
        break;
    case '/get':
        session_start();
        $present = array_key_exists($p['key'], $_SESSION);
        reply(['present' => $present, 'value' => $present ? $_SESSION[$p['key']] : null]);
        break;
    case '/set':
        session_start();
        $_SESSION[$p['key']] = json_decode($p['value'], true, 512, JSON_THROW_ON_ERROR);
        usleep((int) ($p['delay_ms'] ?? 0) * 1000);
        reply(['ok' => true]);
        break;
    case '/set_object':  // a value JSON cannot carry
        session_start();
        $_SESSION['when'] = new DateTimeImmutable('2021-02-03 04:05:06 UTC');
        reply(['ok' => true]);
        break;
    case '/get_object':
        session_start();
        $w = $_SESSION['when'] ?? null;
        reply(['class' => is_object($w) ? get_class($w) : null, 'value' => $w?->format(DATE_ATOM)]);
        break;
    case '/append':  // in-place change of a nested value
        session_start();
        $_SESSION[$p['key']][] = $p['item'];
        reply(['value' => $_SESSION[$p['key']]]);
        break;
    case '/delete':
        session_start();
        unset($_SESSION[$p['key']]);
        reply(['ok' => true]);
        break;
    case '/regenerate':
        session_start();
        $old = session_id();
        session_regenerate_id(($p['delete'] ?? '1') === '1');
        if (isset($p['set'])) {
            $_SESSION[$p['set']] = 'after';
        }
        reply(['old' => $old, 'new' => session_id()]);
        break;
    case '/login':  // PHP's idiom
        session_start();
        session_regenerate_id(true);
        $_SESSION['user_id'] = $p['user'];
        reply(['user' => $_SESSION['user_id']]);
        break;
    case '/login_helper':
        session_start();
        Session::login($p['user']);
        reply(['user' => Session::userId(), 'session' => $_SESSION]);
        break;
    case '/unset_user':  // removing the user key logs out and keeps the rest
        session_start();
        unset($_SESSION['user_id']);
        reply(['ok' => true]);
        break;
    case '/logout':
        session_start();
        $_SESSION = [];
        session_destroy();
        if (isset($p['then_flash'])) {
            Session::flash($p['then_flash']);
        }
        reply(['ok' => true]);
        break;
    case '/whoami':
        session_start();
        reply(['user' => (string) ($_SESSION['user_id'] ?? ''), 'helper' => Session::userId(),
               'revoked_reason' => Session::revokedReason()]);
        break;
    case '/flash':
        Session::flash($p['message']);
        reply(['ok' => true]);
        break;
    case '/flashes':
        reply(['messages' => Session::flashes(), 'delay' => usleep((int) ($p['delay_ms'] ?? 0) * 1000)]);
        break;
    case '/csrf':
        reply(['token' => Session::csrfToken()]);
        break;
    case '/rotate_csrf':
        reply(['token' => Session::rotateCsrf()]);
        break;
    case '/post_something':
        session_start();
        $_SESSION['posted'] = true;
        reply(['ok' => true]);
        break;
    case '/devices':
        reply(['devices' => array_map(static fn ($d) => $d->deviceArray(), Session::devices())]);
        break;
    case '/signout_others':
        reply(['ended' => Session::signOutOtherLocations()]);
        break;
    case '/password_changed':
        Session::passwordChanged();
        reply(['ok' => true]);
        break;
    case '/version':
        session_start();
        reply(['version' => Session::info()?->version]);
        break;
    case '/noop':
        session_start();
        reply(['ok' => true]);
        break;
    case '/fail':  // an error page: the changes are not kept
        session_start();
        $_SESSION['x'] = 'from a failed request';
        reply(['error' => 'boom'], (int) ($p['status'] ?? 500));
        break;
    case '/reset':
        session_start();
        $_SESSION['n'] = 'changed';
        session_reset();
        reply(['n' => $_SESSION['n'] ?? null]);
        break;
    case '/two_starts':  // write, start again, write again: one request, two commits
        session_start();
        $_SESSION['a'] = 1;
        session_write_close();
        session_start();
        $_SESSION['b'] = 2;
        reply(['ok' => true]);
        break;
    case '/write_close_conflict':  // an explicit session_write_close() throws
        session_start();
        $_SESSION['k'] = $p['value'];
        usleep((int) ($p['delay_ms'] ?? 0) * 1000);
        try {
            session_write_close();
            reply(['caught' => null]);
        } catch (SessiondException $e) {
            reply(['caught' => $e->getErrorCode()]);
        }
        break;
    case '/big':
        session_start();
        echo str_repeat('page being built ', 100);  // buffered: replaced by the error page
        $_SESSION['big'] = str_repeat('x', (int) $p['bytes']);
        break;
    case '/bad_key':
        session_start();
        $_SESSION['has space'] = 1;
        reply(['ok' => true]);
        break;
    default:
        reply(['error' => 'no route ' . $path], 404);
}
