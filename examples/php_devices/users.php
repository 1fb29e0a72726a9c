<?php
// The demo's fixed user table: passwords only as bcrypt hashes
// (password_hash). The demo passwords are on the login page (alice /
// wonderland, bob / builder); a real app keeps this in its database.

declare(strict_types=1);

const DEMO_USERS = [
    'alice' => '$2y$10$rZsvCNmOvmEwycpjtU1AF.AzEmRqB6IzUTxf8LT6vfwz8KcKxkybS',
    'bob' => '$2y$10$qp9Fj2mCb8lK3F6BVd4DmOOj2qsZ6NKk3zpjzwUZ/aPrcAdE6PpFG',
];

// Checked when the user is unknown, so a wrong name costs what a wrong password costs.
const DUMMY_HASH = '$2y$10$xrZMlBu77.kmP9NUFag8e.I5ACQZWHZLmRaz.6zg6C2RryHfN26qS';

function check_password(string $user, string $password): bool
{
    $hash = DEMO_USERS[$user] ?? DUMMY_HASH;
    return password_verify($password, $hash) && isset(DEMO_USERS[$user]);
}
