"""The comparison Django users make: one small app whose request reads the
session (a user id and a token) and renders a few bytes, driven in-process
by Django's test client (no web server is measured), with
  (a) Django's signed-cookie sessions,
  (b) Django's cache backend on django-redis over a real redis-server,
  (c) django-redis-sessions on the same redis-server,
  (d) sessiond through clients/python's Django engine.
Prints one JSON object: requests per second for each.

Django is configured once per process, so each variant runs in a child
process of this script (--variant). Run with /usr/bin/python3 and
clients/python on PYTHONPATH, as flask_bench.py.
"""
import argparse
import json
import os
import subprocess
import sys
import time

VARIANTS = ("signed_cookie", "django_redis_cache", "django_redis_sessions",
            "sessiond")
ENGINES = {
    "signed_cookie": "django.contrib.sessions.backends.signed_cookies",
    "django_redis_cache": "django.contrib.sessions.backends.cache",
    "django_redis_sessions": "redis_sessions.session",
    "sessiond": "sessiond.django",
}


def configure(variant, args):
    import django
    from django.conf import settings
    middleware = ("sessiond.django.middleware.SessionMiddleware"
                  if variant == "sessiond" else
                  "django.contrib.sessions.middleware.SessionMiddleware")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-secret-0123456789abcdef-0123456789",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[middleware],
        SESSION_ENGINE=ENGINES[variant],
        SESSIOND={"ENDPOINT": args.sessiond, "TIMEOUT": 5.0},
        CACHES={"default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:%d/0" % args.redis_port}},
        SESSION_REDIS={"host": "127.0.0.1", "port": args.redis_port,
                       "db": 1, "prefix": "bench", "socket_timeout": 1},
        USE_TZ=True,
    )
    django.setup()


def login(request):
    from django.http import HttpResponse
    request.session["user_id"] = "12345"
    request.session["csrf"] = "Jb3kC0tq2n8Qm4XvX1yZ0aBcDeFgHiJkLmNoPqRsTuV"
    return HttpResponse("ok")


def index(request):
    from django.http import HttpResponse
    return HttpResponse("hello %s %s" % (request.session.get("user_id"),
                                         request.session.get("csrf", "")[:4]))


urlpatterns = []


def measure(seconds):
    from django.test import Client
    from django.urls import path
    urlpatterns[:] = [path("login", login), path("", index)]
    client = Client()
    assert client.get("/login").status_code == 200
    first = client.get("/")
    assert first.status_code == 200 and b"12345" in first.content, first
    for _ in range(200):  # warm-up
        client.get("/")
    count = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(50):
            r = client.get("/")
            if r.status_code != 200:
                raise RuntimeError("status %d: %r" % (r.status_code,
                                                      r.content))
        count += 50
    return count / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--sessiond", required=True)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--variant", choices=VARIANTS,
                    help="(internal) measure one variant in this process")
    args = ap.parse_args()
    if args.variant:
        configure(args.variant, args)
        print(json.dumps({args.variant: measure(args.seconds)}))
        return
    out = {}
    for variant in VARIANTS:
        r = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--variant", variant,
             "--redis-port", str(args.redis_port), "--sessiond",
             args.sessiond, "--seconds", str(args.seconds)],
            capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (variant, r.stderr[-2000:]))
        out.update(json.loads(r.stdout.strip().splitlines()[-1]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
