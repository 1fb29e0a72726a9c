"""What the three contract apps share: the JSON shape of "your devices"
and the parsing of /set's JSON value (tests/contract defines the routes)."""

import json
import time


def device(d):
    """A protocol.Session as the contract's /devices lists it."""
    return {"current": d.current, "ip": d.ip, "user_agent": d.user_agent,
            "created_at": d.created_at,
            "authenticated_at": d.authenticated_at,
            "last_seen_at": d.last_seen_at}


def parse_value(text):
    return json.loads(text)


def pause(delay_ms):
    """/set's delay_ms: the view sleeps, and the commit comes after."""
    if delay_ms:
        time.sleep(int(delay_ms) / 1000.0)
