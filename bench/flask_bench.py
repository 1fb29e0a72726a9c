"""The comparison Flask users actually make: one small app whose request
reads the session (user id, CSRF token) and renders a few bytes, driven
in-process by Flask's test client (so no web server is measured), with
  (a) Flask's default signed-cookie session (itsdangerous),
  (b) Flask-Session on a real redis-server,
  (c) sessiond through clients/python's Flask integration.
Prints one JSON object: requests per second for each.

Run with /usr/bin/python3 and clients/python on PYTHONPATH (bench/run.py
does both).
"""
import argparse
import json
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


def measure(app, seconds):
    client = app.test_client()
    assert client.get("/login").status_code == 200
    first = client.get("/")
    assert first.status_code == 200 and b"12345" in first.data, first.data
    for _ in range(200):  # warm-up
        client.get("/")
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--sessiond", required=True)
    ap.add_argument("--seconds", type=float, default=3)
    args = ap.parse_args()
    out = {}
    for kind in ("signed_cookie", "flask_session_redis", "sessiond"):
        out[kind] = measure(make_app(kind, args), args.seconds)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
