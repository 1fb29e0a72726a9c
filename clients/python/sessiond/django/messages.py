"""django.contrib.messages on sessiond's flash queue, shown exactly once.

    MESSAGE_STORAGE = "sessiond.django.messages.SessiondStorage"

Django's session storage keeps messages under a session key: two requests
of one user that race both read them and both show them. Here each message
is one entry of sessiond's default flash queue (stored with Django's own
cookie-storage encoding, so mark_safe() and extra_tags survive), and
reading the messages pops the queue with the FLASH verb, which hands each
message to exactly one request. New messages join the queue with the
request's COMMIT; messages not read in a request stay queued.

Needs sessiond.django.middleware.SessionMiddleware before
django.contrib.messages.middleware.MessageMiddleware.
"""

from __future__ import annotations

import json
from typing import Any, List, Optional, Tuple

from django.contrib.messages import constants
from django.contrib.messages.storage.base import BaseStorage, Message
from django.contrib.messages.storage.cookie import (MessageDecoder,
                                                    MessageEncoder)
from django.core.exceptions import ImproperlyConfigured

from .session import SessionStore

QUEUE = ""  # sessiond's default flash queue


def encode(message: Message) -> str:
    return json.dumps(message, separators=(",", ":"), cls=MessageEncoder)


def decode(text: str) -> Message:
    try:
        value = json.loads(text, cls=MessageDecoder)
    except ValueError:
        value = None
    if isinstance(value, Message):
        return value
    # Flashed by another framework on the same session: show its text.
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, str) for v in value)):
        return Message(constants.INFO, value[1])  # Flask's [category, text]
    return Message(constants.INFO, text)


class SessiondStorage(BaseStorage):  # type: ignore[misc]  # Django is untyped
    """Messages in sessiond's flash queue (see the module doc)."""

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        if not isinstance(getattr(request, "session", None), SessionStore):
            raise ImproperlyConfigured(
                "SessiondStorage needs request.session from sessiond: set "
                'SESSION_ENGINE = "sessiond.django" and put '
                '"sessiond.django.middleware.SessionMiddleware" before '
                "MessageMiddleware in MIDDLEWARE")
        super().__init__(request, *args, **kwargs)

    def _get(self, *args: Any, **kwargs: Any
             ) -> Tuple[Optional[List[Message]], bool]:
        state = self.request.session.state
        return [decode(m) for m in state.pop_flash(QUEUE)], True

    def _store(self, messages: List[Message], response: Any,
               *args: Any, **kwargs: Any) -> List[Message]:
        state = self.request.session.state
        for message in messages:
            state.flash(encode(message), QUEUE)
        self.request.session.modified = True
        return []

    def update(self, response: Any) -> List[Message]:
        """Queues the messages added in this request. Unlike Django's
        storages it never stores the read ones back: reading popped them,
        and messages nobody read are still in sessiond's queue."""
        self._prepare_messages(self._queued_messages)
        if self._queued_messages and (self.used or self.added_new):
            return self._store(self._queued_messages, response)
        return []
