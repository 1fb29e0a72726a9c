"""CSRF_USE_SESSIONS on sessiond's CSRF token.

With CSRF_USE_SESSIONS, Django keeps its CSRF token in the session under
"_csrftoken" (a 64-character masked token of ASCII letters and digits, in
Django 3.2). Here that key is not data: it is derived from the session's
sessiond CSRF token, so it rotates whenever sessiond rotates that token
(LOGIN, REGENERATE, CSRF_ROTATE, BUMP_EPOCH), every framework on the
session shares one token, and nothing extra is stored.

Why a derivation and not the token itself: Django accepts only letters and
digits of a fixed length there, and sessiond's token is base64url. Any 64
such characters are a valid masked Django token (the first half masks the
second), so a deterministic one is derived with SHA-512; it is as secret
as sessiond's token and reveals nothing about it.

Django's CsrfViewMiddleware mints its own token when none is in the
request, which could never match a derived one, so the middleware here
(sessiond.django.middleware.CsrfViewMiddleware) puts a lazy token in
request.META["CSRF_COOKIE"] instead: the first page that renders
{% csrf_token %} creates the session and gets the derived token.
"""

from __future__ import annotations

import hashlib
import string
from typing import Any, Callable, Iterator, Optional

CSRF_SESSION_KEY = "_csrftoken"  # django.middleware.csrf.CSRF_SESSION_KEY
_CHARS = string.ascii_letters + string.digits  # Django's CSRF_ALLOWED_CHARS


def django_token(sessiond_token: str) -> str:
    """The Django CSRF session value (a 64-character masked token) for a
    sessiond CSRF token."""
    digest = hashlib.sha512(b"sessiond django csrf\0"
                            + sessiond_token.encode("utf-8")).digest()
    return "".join(_CHARS[b % len(_CHARS)] for b in digest)


class LazyToken:
    """What goes into request.META["CSRF_COOKIE"]: the derived token, asked
    for (creating the session) only when something uses it, as Django's
    CSRF code does with a str (slicing, iterating, comparing). Its repr
    never asks: Django's error reports print META, and a report about
    sessiond being down must not call sessiond."""

    def __init__(self, get: Callable[[], str]) -> None:
        self._get = get
        self._value: Optional[str] = None

    def _resolve(self) -> str:
        if self._value is None:
            self._value = self._get()
        return self._value

    def __str__(self) -> str:
        return self._resolve()

    def __getitem__(self, index: Any) -> str:
        return self._resolve()[index]

    def __len__(self) -> int:
        return len(self._resolve())

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolve())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (str, LazyToken)):
            return self._resolve() == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._resolve())

    def __repr__(self) -> str:
        return "<CSRF token from sessiond>"


def lazy_token(get: Callable[[], str]) -> LazyToken:
    """The LazyToken for get (see LazyToken)."""
    return LazyToken(get)


def is_lazy_token(value: Any) -> bool:
    return isinstance(value, LazyToken)
