"""The comparison Django users make: one small app whose request reads the
session (a user id and a token) and renders a few bytes, driven in-process
by Django's test client (no web server is measured), with
  (a) Django's signed-cookie sessions,
  (b) Django's cache backend on django-redis over a real redis-server,
  (c) django-redis-sessions on the same redis-server,
  (d) sessiond through clients/python's Django engine.
Prints one JSON object: requests per second for each.

Django is configured once per process, so each variant runs in a child
process of this script (--variant), which measures one slice each time it
is asked on stdin. The variants take turns: --rounds rounds (default 5) of
seconds/rounds each, and each figure is the median of its rounds, as in
flask_bench.py. Run with /usr/bin/python3 and clients/python on
PYTHONPATH, as flask_bench.py.
"""
import argparse
import json
import os
import statistics
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


def prepare():
    from django.test import Client
    from django.urls import path
    urlpatterns[:] = [path("login", login), path("", index)]
    client = Client()
    assert client.get("/login").status_code == 200
    first = client.get("/")
    assert first.status_code == 200 and b"12345" in first.content, first
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
                raise RuntimeError("status %d: %r" % (r.status_code,
                                                      r.content))
        count += 50
    return count / (time.perf_counter() - start)


def serve_variant(args):
    """Child: prepares, says "ready", then answers each "measure S" line
    on stdin with one rate."""
    configure(args.variant, args)
    client = prepare()
    print("ready", flush=True)
    for line in sys.stdin:
        seconds = float(line.split()[1])
        print(json.dumps(measure(client, seconds)), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--sessiond", required=True)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--variant", choices=VARIANTS,
                    help="(internal) run one variant, driven on stdin")
    args = ap.parse_args()
    if args.variant:
        serve_variant(args)
        return
    children = {}
    try:
        for variant in VARIANTS:
            child = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--variant",
                 variant, "--redis-port", str(args.redis_port),
                 "--sessiond", args.sessiond],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("%s did not start" % variant)
            children[variant] = child
        rounds = max(1, args.rounds)
        rates = {variant: [] for variant in VARIANTS}
        for _ in range(rounds):
            for variant, child in children.items():
                child.stdin.write("measure %f\n" % (args.seconds / rounds))
                child.stdin.flush()
                answer = child.stdout.readline()
                if not answer:
                    raise RuntimeError("%s failed" % variant)
                rates[variant].append(json.loads(answer))
    finally:
        for child in children.values():
            child.stdin.close()
            child.wait(30)
    print(json.dumps({v: statistics.median(r) for v, r in rates.items()}))


if __name__ == "__main__":
    main()
