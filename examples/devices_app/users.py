"""The demo's fixed user table: passwords stored only as scrypt hashes.

Format: scrypt$N$r$p$salt_hex$hash_hex. The demo passwords are printed on
the login page (alice / wonderland, bob / builder); a real app keeps this
table in its database and never shows them, of course.
"""

import hashlib
import hmac

USERS = {
    "alice": "scrypt$16384$8$1$df6e95eb212df5afd1aa0be39beda1b7$"
             "c934c93c7e2db49ec653e4b1244786bd4717008cf6c9bea4714616336103ef96",
    "bob": "scrypt$16384$8$1$32f3e632767c238b45d653582b7be49a$"
           "ca62706d39b475d1862a6ddbc013f63e125b9703da98eb5e06342d0c8b1683ba",
}

# Compared against when the user is unknown, so that a wrong user name
# costs the same time as a wrong password.
_DUMMY = ("scrypt$16384$8$1$00000000000000000000000000000000$"
          "0000000000000000000000000000000000000000000000000000000000000000")


def hash_password(password, salt, n=16384, r=8, p=1):
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r,
                            p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_password(user, password):
    """True when password is user's; constant time in the comparison."""
    stored = USERS.get(user, _DUMMY)
    _, n, r, p, salt, _ = stored.split("$")
    candidate = hash_password(password, bytes.fromhex(salt), int(n), int(r),
                              int(p))
    return hmac.compare_digest(candidate, stored) and user in USERS
