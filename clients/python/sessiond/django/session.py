"""SessionStore: Django's SessionBase contract on sessiond
(SESSION_ENGINE = "sessiond.django").

The session key is the cookie value sessiond hands out; the data lives on
sessiond and only the keys a request changed go back, as one COMMIT, at
save(). Point by point (each is tested in tests/test_django.py):

  exists(key)       LOAD answers for it (never creates).
  create()          CREATE: a new key now; the current data goes to it at
                    save().
  save()            COMMIT of the changed keys (LOGIN first when the user
                    key changed); with no key yet, create() first.
  save(must_create=True)  CreateError when the session already exists.
  a session deleted elsewhere (logout, sign out others, revoked) is never
                    brought back: save() raises UpdateError (Django's
                    SessionMiddleware answers 400), it does not CREATE.
  delete(key)       LOGOUT (tombstoned: an in-flight request cannot bring
                    it back).
  load()            LOAD; an invalid, expired or revoked key gives {} and
                    session_key None (no record is created).
  cycle_key()       REGENERATE: a new key at once, the old one dead, data
                    and user kept. (login() calls it.)
  flush()           LOGOUT and an empty session without a key.
  expiry            set_expiry / get_expiry_age / get_expiry_date /
                    get_expire_at_browser_close and
                    SESSION_EXPIRE_AT_BROWSER_CLOSE as Django computes
                    them; a custom expiry in seconds is also enforced on
                    the server side (the deadline is kept in a hidden key
                    and checked at load), as Django's database backend
                    does with expire_date. sessiond's own lifetime and idle
                    timeout always apply.
  clear_expired()   a no-op: sessiond removes expired sessions itself.

Beyond Django: "_auth_user_id" mirrors sessiond's user id (setting it is a
LOGIN, deleting it a LOGOUT, so login()/logout() regenerate and revoke on
sessiond); a new "_auth_user_hash" for the same user (what
update_session_auth_hash() writes after a password change) is a
BUMP_EPOCH, which ends the user's other sessions at once; "_csrftoken"
(CSRF_USE_SESSIONS) is sessiond's CSRF token (sessiond.django.csrf).
Values are JSON, as with Django's default JSONSerializer.
"""

from __future__ import annotations

import json
import time
from typing import (Any, Callable, Dict, ItemsView, KeysView, Optional, Union,
                    ValuesView)

from django.conf import settings
from django.contrib.sessions.backends.base import (CreateError, SessionBase,
                                                   UpdateError)
from django.utils.module_loading import import_string

from .. import errors
from ..state import RequestSession
from . import conf
from .csrf import CSRF_SESSION_KEY, django_token

HASH_SESSION_KEY = "_auth_user_hash"  # django.contrib.auth.HASH_SESSION_KEY
EXPIRY_KEY = "_session_expiry"  # where SessionBase.set_expiry() keeps it
# Hidden key: the Unix time after which a session with a custom expiry is
# over (Django's database backend keeps this as expire_date).
DEADLINE_KEY = "_sessiond_expire_at"
_MISSING: Any = object()


class SessionStore(SessionBase):  # type: ignore[misc]  # Django is untyped
    """request.session on sessiond. See the module doc."""

    def __init__(self, session_key: Union[str, None,
                                          Callable[[], Optional[str]]] = None
                 ) -> None:
        # SessionBase.__init__ is not called: its key property would be
        # the wrong place to keep the key (the RequestSession keeps it).
        # session_key may also be a function returning it (the middleware
        # passes one, so that sessiond is asked for its cookie name only
        # when the session is used).
        self.accessed = False
        self.modified = False
        self._csrf_rotation = False
        self._expiry_checked = False
        validate = self._validate_session_key
        source: Union[str, None, Callable[[], Optional[str]]]
        if callable(session_key):
            getter = session_key

            def source() -> Optional[str]:
                key = getter()
                return key if validate(key) else None
        else:
            source = session_key if validate(session_key) else None
        self._state = RequestSession(conf.client(), source,
                                     user_key=conf.user_key(),
                                     hidden_keys=(DEADLINE_KEY,))

    def bind_request(self, ip: Optional[str],
                     user_agent: Optional[str]) -> None:
        """The client metadata CREATE and LOGIN record ("your devices")."""
        self._state.ip = ip
        self._state.user_agent = user_agent

    @property
    def serializer(self) -> Any:
        """SESSION_SERIALIZER, for SessionBase.encode/decode (values here
        are JSON whatever it says; looked up only when asked)."""
        return import_string(settings.SESSION_SERIALIZER)

    @property
    def state(self) -> RequestSession:
        """The RequestSession doing the work (for the helpers)."""
        return self._state

    # -- the key -----------------------------------------------------------

    def _get_session_key(self) -> Optional[str]:
        self._state.resolve_cookie()
        return self._state.cookie or None

    def _set_session_key(self, value: Optional[str]) -> None:
        if value:
            raise ValueError("sessiond mints session keys; only None may be "
                             "assigned (as flush() does)")
        if self._state.cookie:
            self._state._drop_server_session(keep_changes=True)

    session_key = property(_get_session_key)
    _session_key = property(_get_session_key, _set_session_key)

    # -- the data ------------------------------------------------------------

    def _get_session(self, no_load: bool = False) -> Dict[str, Any]:
        self.accessed = True
        data = self._state.data()
        if not self._expiry_checked:
            self._expiry_checked = True
            self._enforce_custom_expiry()
        return data

    _session = property(_get_session)

    def _enforce_custom_expiry(self) -> None:
        deadline = self._state.hidden(DEADLINE_KEY)
        if deadline is None:
            return
        try:
            over = int(deadline) < time.time()
        except ValueError:
            over = False
        if over:  # past the custom expiry: as an expired cookie would be
            self._state.logout()

    def __contains__(self, key: object) -> bool:
        if key == CSRF_SESSION_KEY:
            return self._csrf_value() is not None
        return key in self._session

    def __getitem__(self, key: str) -> Any:
        if key == CSRF_SESSION_KEY:
            value = self._csrf_value()
            if value is None:
                raise KeyError(key)
            return value
        return self._session[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.accessed = True
        if key == CSRF_SESSION_KEY:
            self._set_csrf_value(value)
            return
        self._state.set_item(key, value)
        self.modified = True

    def __delitem__(self, key: str) -> None:
        if key == CSRF_SESSION_KEY:
            self._set_csrf_value(None)
            return
        del self._session[key]
        self.modified = True

    def get(self, key: str, default: Any = None) -> Any:
        if key == CSRF_SESSION_KEY:
            value = self._csrf_value()
            return default if value is None else value
        return self._session.get(key, default)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        if key == CSRF_SESSION_KEY:
            value = self._csrf_value()
            self._set_csrf_value(None)
            return default if value is None and default is not _MISSING \
                else value
        self.modified = self.modified or key in self._session
        if default is _MISSING:
            return self._session.pop(key)
        return self._session.pop(key, default)

    def setdefault(self, key: str, value: Any) -> Any:
        if key in self:
            return self[key]
        self[key] = value
        return value

    def update(self, dict_: Any) -> None:
        for key, value in dict(dict_).items():
            self[key] = value

    def has_key(self, key: str) -> bool:
        return key in self

    def keys(self) -> KeysView[str]:
        return self._get_session().keys()

    def values(self) -> ValuesView[Any]:
        return self._get_session().values()

    def items(self) -> ItemsView[str, Any]:
        return self._get_session().items()

    def clear(self) -> None:
        """Empties the session: the data, the user (logged out at save())
        and the flash messages."""
        self._state.clear()
        self.accessed = True
        self.modified = True

    def is_empty(self) -> bool:
        """No session key and no data (Django deletes the cookie then)."""
        state = self._state
        if not state.loaded:
            return not self.session_key
        return not state.cookie and not state.data() and not state.modified

    # -- CSRF_USE_SESSIONS ---------------------------------------------------

    def _csrf_value(self) -> Optional[str]:
        token = self._state.existing_csrf_token()
        return None if token is None else django_token(token)

    def _set_csrf_value(self, value: Any) -> None:
        # Django wrote its own token (rotate_token() without login()):
        # sessiond cannot take a given token, so the session's token is
        # rotated at save(), which ends the old one as Django intends.
        current = self._csrf_value()
        if value is None or value != current:
            self._csrf_rotation = True
            self.modified = True

    def rotate_csrf_now(self) -> str:
        """CSRF_ROTATE now -> sessiond's new token."""
        self._csrf_rotation = False
        return self._state.rotate_csrf()

    # -- SessionBase's contract ------------------------------------------------

    def exists(self, session_key: Optional[str]) -> bool:
        if not session_key:
            return False
        try:
            self._state.client.load(session_key)
        except errors.InvalidCookie:
            return False
        return True

    def create(self) -> None:
        self._state.create_now()
        self.modified = True

    def save(self, must_create: bool = False) -> None:
        state = self._state
        state.ensure_loaded()
        if must_create and state.cookie:
            raise CreateError("the session exists already")
        if not state.cookie and state.pending_login() is None:
            self.create()  # as Django's: saved once, even with no data
            # (with a user to log in, the LOGIN below creates it instead)
        if self._csrf_rotation and state.cookie:
            self.rotate_csrf_now()
        state.apply_user_key()
        if self._password_changed():
            state.bump_epoch()
        self._set_deadline()
        try:
            state.commit(strict=True)
        except errors.InvalidCookie as e:
            raise UpdateError(f"the session ended meanwhile: {e}") from e
        self.modified = False

    def _password_changed(self) -> bool:
        """Whether this request wrote a new password hash for the same
        logged-in user (update_session_auth_hash)."""
        state = self._state
        if not state.cookie or not state.user_id:
            return False
        before = state.loaded_value(HASH_SESSION_KEY)
        now = state.data().get(HASH_SESSION_KEY)
        return bool(before) and bool(now) and before != now

    def _set_deadline(self) -> None:
        expiry = self._state.data().get(EXPIRY_KEY)
        if isinstance(expiry, int) and not isinstance(expiry, bool) \
                and expiry > 0:
            self._state.set_hidden(DEADLINE_KEY,
                                   str(int(time.time()) + expiry))
        else:
            self._state.set_hidden(DEADLINE_KEY, None)

    def delete(self, session_key: Optional[str] = None) -> None:
        state = self._state
        if session_key is None or session_key == state.cookie:
            state.ensure_loaded()
            if state.cookie:
                state._logout()
            return
        try:
            state.client.logout(session_key)
        except errors.InvalidCookie:
            pass  # gone already

    def load(self) -> Dict[str, Any]:
        """The session's data as stored now. The first call is the lazy
        load of request.session; later calls read sessiond again (as
        Django's backends read their storage) and return a new dict."""
        state = self._state
        if not state.loaded:
            return self._get_session()
        if not state.cookie:
            return {}
        try:
            reply = state.client.load(state.cookie)
        except errors.InvalidCookie as e:
            state._note_invalid(e)
            state._drop_server_session(keep_changes=True)
            return {}
        data = {k: state.codec.decode(v)
                for k, v in reply.session.data.items() if k != DEADLINE_KEY}
        if reply.session.user_id and state.user_key:
            data[state.user_key] = reply.session.user_id
        return data

    def cycle_key(self) -> None:
        """REGENERATE: a new key now; data and user kept; the old key no
        longer works. Without a server-side session there is no key to
        protect: the one made at save() is new anyway."""
        self._state.ensure_loaded()
        self._state.regenerate()
        self.modified = True

    def flush(self) -> None:
        """LOGOUT now; an empty session without a key remains."""
        self._state.logout()
        self.accessed = True
        self.modified = True

    @classmethod
    def clear_expired(cls) -> None:
        """Nothing to do: sessiond drops expired sessions itself."""

    # -- for `manage.py shell` and the test client ------------------------------

    def __repr__(self) -> str:
        state = self._state
        if not state.loaded:
            return "<sessiond SessionStore (not loaded)>"
        return f"<sessiond SessionStore {json.dumps(state.data(), default=str)}>"
