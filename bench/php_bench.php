<?php
// The page bench/php_bench.py measures, the same on both session stores:
// it reads the session (user id and a CSRF-sized value) and renders a few
// bytes, as flask_bench.py's page does. BENCH_STORE=sessiond puts it on
// sessiond (Session::register); BENCH_STORE=redis leaves PHP's own session
// module in charge, with session.save_handler = redis set by the bench.
// /login writes the two values once; / only reads. BENCH_NONPERSISTENT=1
// gives every request a new ZeroMQ socket (the client's persistent=false).

declare(strict_types=1);

if (getenv('BENCH_STORE') === 'sessiond') {
    require dirname(__DIR__) . '/clients/php/autoload.php';
    $client = new Sessiond\Client((string) getenv('SESSIOND_ENDPOINT'), 5.0,
                                  ['persistent' => getenv('BENCH_NONPERSISTENT') !== '1']);
    Sessiond\Session::register($client, ['csrf' => false]);
}

session_start();
if (parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) === '/login') {
    $_SESSION['user_id'] = '12345';
    $_SESSION['csrf'] = 'Jb3kC0tq2n8Qm4XvX1yZ0aBcDeFgHiJkLmNoPqRsTuV';
    echo "ok\n";
    return;
}
echo 'hello ', $_SESSION['user_id'] ?? '-', ' ', substr($_SESSION['csrf'] ?? '', 0, 4), "\n";
