"""Device Bound Session Credentials for Django (docs/dbsc.md; the endpoint
logic is sessiond.dbsc's, shared with Flask).

    SESSIOND = {"ENDPOINT": ..., "DBSC": {}}     # {} takes every default
    urlpatterns += sessiond.django.dbsc.urlpatterns()

SESSIOND["DBSC"] keys: REGISTRATION_PATH (default
"/.sessiond/dbsc/register"), REFRESH_PATH ("/.sessiond/dbsc/refresh"),
OFFER_AT_LOGIN (True: the response of a request that logged in carries
Secure-Session-Registration; False: call offer_device_binding(request,
response) where you want it), AUTHORIZATION (False), EXCLUDE (path
prefixes out of the bound cookie's scope). The two views are POST only and
CSRF exempt (the proof is the check); their answers carry Cache-Control:
no-store, X-Frame-Options: DENY and no CORS headers.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .. import errors
from ..dbsc import REGISTRATION, DbscEndpoints, HttpAnswer
from . import conf

__all__ = ["endpoints", "urlpatterns", "offer_device_binding",
           "offer_at_login", "register_view", "refresh_view",
           "REGISTRATION"]

_cache: Tuple[Any, Optional[DbscEndpoints]] = (None, None)


def _options() -> Optional[Dict[str, Any]]:
    value = conf.options().get("DBSC")
    return value if isinstance(value, dict) else None


def endpoints() -> Optional[DbscEndpoints]:
    """The DbscEndpoints of settings.SESSIOND["DBSC"], or None when DBSC is
    not configured."""
    global _cache
    o = _options()
    if o is None:
        return None
    client = conf.client()
    key = (id(o), id(client))
    if _cache[0] == key and _cache[1] is not None:
        return _cache[1]
    found = DbscEndpoints(
        client,
        registration_path=o.get("REGISTRATION_PATH",
                                "/.sessiond/dbsc/register"),
        refresh_path=o.get("REFRESH_PATH", "/.sessiond/dbsc/refresh"),
        authorization=bool(o.get("AUTHORIZATION", False)),
        exclude=list(o.get("EXCLUDE", ())))
    _cache = (key, found)
    return found


def offer_at_login() -> bool:
    o = _options()
    return o is not None and bool(o.get("OFFER_AT_LOGIN", True))


def _set_cookie_line(response: HttpResponse, line: str) -> None:
    """A Set-Cookie line sessiond rendered, through response.set_cookie
    (Django sends only the cookies it keeps itself)."""
    first, *attributes = [part.strip() for part in line.split(";")]
    name, _, value = first.partition("=")
    kw: Dict[str, Any] = {}
    for attribute in attributes:
        key, _, arg = attribute.partition("=")
        key = key.lower()
        if key == "max-age":
            kw["max_age"] = int(arg)
        elif key in ("path", "domain"):
            kw[key] = arg
        elif key == "samesite":
            kw["samesite"] = arg
        elif key == "secure":
            kw["secure"] = True
        elif key == "httponly":
            kw["httponly"] = True
    response.set_cookie(name, value, **kw)


def _answer(answer: HttpAnswer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    for key, value in answer.headers:
        if key.lower() == "set-cookie":
            _set_cookie_line(response, value)
        else:
            response[key] = value
    return response


def _cookie(request: Any) -> Optional[str]:
    value = request.COOKIES.get(conf.session_cookie().name)
    return str(value) if value else None


def _serve(request: Any, what: str) -> HttpResponse:
    dbsc = endpoints()
    if dbsc is None:
        return HttpResponse(status=404)
    headers = {k: v for k, v in request.headers.items()}
    try:
        cookie = _cookie(request)
        answer = getattr(dbsc, what)(cookie, headers)
    except errors.Unavailable:
        answer = HttpAnswer(503, [("Retry-After", "5")])
    return _answer(answer)


@csrf_exempt  # type: ignore[misc]  # Django is untyped
@require_POST  # type: ignore[misc]
def register_view(request: Any) -> HttpResponse:
    return _serve(request, "register")


@csrf_exempt  # type: ignore[misc]
@require_POST  # type: ignore[misc]
def refresh_view(request: Any) -> HttpResponse:
    return _serve(request, "refresh")


def urlpatterns() -> List[Any]:
    """The two endpoints, at the configured paths."""
    o = _options() or {}
    reg = o.get("REGISTRATION_PATH", "/.sessiond/dbsc/register")
    ref = o.get("REFRESH_PATH", "/.sessiond/dbsc/refresh")
    return [path(reg.lstrip("/"), register_view, name="sessiond_dbsc_register"),
            path(ref.lstrip("/"), refresh_view, name="sessiond_dbsc_refresh")]


def offer_device_binding(request: Any, response: HttpResponse) -> None:
    """Adds Secure-Session-Registration for this request's session to
    `response` (with OFFER_AT_LOGIN False). No-op without a session or when
    sessiond cannot offer now."""
    dbsc = endpoints()
    if dbsc is None:
        raise RuntimeError('SESSIOND["DBSC"] is not configured')
    state = request.session.state
    state.ensure_loaded()
    if state.cookie:
        offer = dbsc.offer(state.cookie)
        if offer:
            response[REGISTRATION] = offer
