"""The contract app on Pyramid, through sessiond.pyramid: request.session,
remember()/forget() with Pyramid's SessionAuthenticationHelper (its
"auth.userid" key is sessiond's user), flash queues and Pyramid's own CSRF
checks on every POST."""

from pyramid.authentication import SessionAuthenticationHelper
from pyramid.config import Configurator
from pyramid.csrf import get_csrf_token, new_csrf_token
from pyramid.exceptions import BadCSRFToken
from pyramid.response import Response
from pyramid.security import forget, remember

from sessiond import pyramid as sp

from contract_common import device, parse_value, pause


class SecurityPolicy:
    """The user is whoever the session says (sessiond's user id)."""

    helper = SessionAuthenticationHelper()

    def identity(self, request):
        return self.helper.authenticated_userid(request)

    def authenticated_userid(self, request):
        return self.helper.authenticated_userid(request)

    def permits(self, request, context, permission):
        return True

    def remember(self, request, userid, **kw):
        return self.helper.remember(request, userid, **kw)

    def forget(self, request, **kw):
        return self.helper.forget(request, **kw)


def health(request):
    return {"ok": True}


def whoami(request):
    return {"user": request.authenticated_userid or ""}


def get(request):
    key = request.GET["key"]
    present = key in request.session
    return {"present": present,
            "value": request.session[key] if present else None}


def set_(request):
    request.session[request.POST["key"]] = parse_value(request.POST["value"])
    pause(request.POST.get("delay_ms"))
    return {"ok": True}


def delete(request):
    request.session.pop(request.POST["key"], None)
    return {"ok": True}


def login(request):
    user = request.POST["user"]
    remember(request, user)  # "auth.userid" -> LOGIN at commit
    return {"user": user}


def logout(request):
    forget(request)
    request.session.invalidate()  # LOGOUT
    return {"ok": True}


def flash(request):
    request.session.flash(request.POST["message"])
    return {"ok": True}


def flashes(request):
    return {"messages": request.session.pop_flash()}


def csrf(request):
    return {"token": get_csrf_token(request), "header": "X-CSRF-Token"}


def rotate_csrf(request):
    return {"token": new_csrf_token(request)}


def devices(request):
    return {"devices": [device(d) for d in sp.list_devices(request)]}


def signout_others(request):
    return {"ended": sp.sign_out_other_locations(request)}


def password_changed(request):
    sp.password_changed(request)
    return {"ok": True}


def big(request):
    request.session["big"] = "x" * int(request.POST["bytes"])
    return {"ok": True}


def bad_csrf(exc, request):
    # Pyramid answers a bad CSRF token with 400; the contract says 403.
    return Response("CSRF token missing or wrong", status=403)


ROUTES = [("health", health, "GET"), ("whoami", whoami, "GET"),
          ("get", get, "GET"), ("set", set_, "POST"),
          ("delete", delete, "POST"), ("login", login, "POST"),
          ("logout", logout, "POST"), ("flash", flash, "POST"),
          ("flashes", flashes, "GET"), ("csrf", csrf, "GET"),
          ("rotate_csrf", rotate_csrf, "POST"), ("devices", devices, "GET"),
          ("signout_others", signout_others, "POST"),
          ("password_changed", password_changed, "POST"),
          ("big", big, "POST")]


def make_app(endpoint):
    config = Configurator(settings={"sessiond.endpoint": endpoint})
    config.include("sessiond.pyramid")
    config.set_security_policy(SecurityPolicy())
    config.set_default_csrf_options(require_csrf=True)
    for name, view, method in ROUTES:
        config.add_route(name, "/" + name)
        config.add_view(view, route_name=name, request_method=method,
                        renderer="json")
    config.add_view(bad_csrf, context=BadCSRFToken)
    return config.make_wsgi_app()
