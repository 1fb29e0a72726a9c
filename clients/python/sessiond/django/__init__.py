"""Django integration: SESSION_ENGINE = "sessiond.django".

    INSTALLED_APPS += ["sessiond.django"]          # system checks
    SESSION_ENGINE = "sessiond.django"
    SESSIOND = {"ENDPOINT": "tcp://127.0.0.1:5555"}
    MIDDLEWARE: sessiond.django.middleware.SessionMiddleware (and, with
        CSRF_USE_SESSIONS, sessiond.django.middleware.CsrfViewMiddleware)
        in place of Django's
    MESSAGE_STORAGE = "sessiond.django.messages.SessiondStorage"

request.session is Django's session API on sessiond (SessionStore, in
sessiond.django.session, with the contract point by point); login(),
logout(), update_session_auth_hash(), messages and CSRF_USE_SESSIONS work
unchanged and gain what sessiond adds (regeneration and revocation on the
server, password change ending the other sessions, messages shown exactly
once). The helpers below add "your devices" and the rest; docs/django.md
has the whole story.
"""

from .helpers import (list_devices, password_changed, revoked_reason,
                      rotate_csrf_token, session_user_id,
                      sign_out_other_locations)
from .session import SessionStore

__all__ = [
    "SessionStore", "list_devices", "password_changed", "revoked_reason",
    "rotate_csrf_token", "session_user_id", "sign_out_other_locations",
]
