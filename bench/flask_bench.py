"""The comparison Flask users actually make: one small app whose request
reads the session (user id, CSRF token) and renders a few bytes, driven
in-process by Flask's test client (so no web server is measured), with
  (a) Flask's default signed-cookie session (itsdangerous),
  (b) Flask-Session on a real redis-server,
  (c) sessiond through clients/python's Flask integration.
Prints one JSON object: requests per second for each.

The variants take turns: --rounds rounds (default 5) of seconds/rounds
each, and each variant's figure is the median of its rounds, so that a
noisy moment on a shared machine hits all of them alike instead of
whichever ran then.

Run with /usr/bin/python3 and clients/python on PYTHONPATH (bench/run.py
does both).
"""
import argparse
import json
import statistics
import time

from flask import Flask, session


def make_app(kind, args):
    app = Flask("bench_" + kind)
    app.secret_key = "bench-only-secret-0123456789abcdef"
    if kind == "flask_session_redis":
        import redis
        from flask_session import Session
        app.config.update(SESSION_TYPE="redis",
                          SESSION_REDIS=redis.Redis(port=args.redis_port))
        Session(app)
    elif kind == "sessiond":
        from sessiond import Client
        from sessiond.flask import Sessiond
        Sessiond(app, Client(args.sessiond, timeout=5.0), csrf=False)

    @app.route("/login")
    def login():
        session["user_id"] = "12345"
        session["csrf"] = "Jb3kC0tq2n8Qm4XvX1yZ0aBcDeFgHiJkLmNoPqRsTuV"
        return "ok"

    @app.route("/")
    def index():
        return "hello %s %s" % (session.get("user_id"),
                                session.get("csrf", "")[:4])

    return app


def prepare(app):
    client = app.test_client()
    assert client.get("/login").status_code == 200
    first = client.get("/")
    assert first.status_code == 200 and b"12345" in first.data, first.data
    for _ in range(200):  # warm-up
        client.get("/")
    return client


def measure(client, seconds):
    count = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(50):
            r = client.get("/")
            if r.status_code != 200:
                raise RuntimeError("status %d: %r" % (r.status_code, r.data))
        count += 50
    return count / (time.perf_counter() - start)


VARIANTS = ("signed_cookie", "flask_session_redis", "sessiond")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--sessiond", required=True)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    clients = {kind: prepare(make_app(kind, args)) for kind in VARIANTS}
    rates = {kind: [] for kind in VARIANTS}
    for _ in range(max(1, args.rounds)):
        for kind in VARIANTS:
            rates[kind].append(measure(clients[kind],
                                       args.seconds / max(1, args.rounds)))
    print(json.dumps({kind: statistics.median(r) for kind, r in
                      rates.items()}))


if __name__ == "__main__":
    main()
