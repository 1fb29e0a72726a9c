// The demo's fixed user table (the same as the Flask example's): passwords
// kept only as scrypt hashes, scrypt$N$r$p$salt_hex$hash_hex. The demo
// passwords are printed on the login page (alice / wonderland, bob /
// builder); a real app keeps this table in its database.
'use strict';

const crypto = require('node:crypto');

const USERS = {
  alice: 'scrypt$16384$8$1$df6e95eb212df5afd1aa0be39beda1b7$'
    + 'c934c93c7e2db49ec653e4b1244786bd4717008cf6c9bea4714616336103ef96',
  bob: 'scrypt$16384$8$1$32f3e632767c238b45d653582b7be49a$'
    + 'ca62706d39b475d1862a6ddbc013f63e125b9703da98eb5e06342d0c8b1683ba',
};

// Checked against when the user is unknown, so a wrong user name costs the
// same time as a wrong password.
const DUMMY = `scrypt$16384$8$1$${'0'.repeat(32)}$${'0'.repeat(64)}`;

/** Resolves true when password is user's (scrypt, constant-time compare). */
function checkPassword(user, password) {
  const known = Object.prototype.hasOwnProperty.call(USERS, user);
  const [, n, r, p, salt, hash] = (known ? USERS[user] : DUMMY).split('$');
  const expected = Buffer.from(hash, 'hex');
  return new Promise((resolve, reject) => {
    crypto.scrypt(String(password), Buffer.from(salt, 'hex'), expected.length,
      { N: Number(n), r: Number(r), p: Number(p) }, (err, derived) => {
        if (err) reject(err);
        else resolve(known && crypto.timingSafeEqual(derived, expected));
      });
  });
}

module.exports = { checkPassword };
