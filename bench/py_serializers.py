"""What Flask and Pyramid users run today for signed cookies: itsdangerous'
URLSafeTimedSerializer (Flask's session) and webob's SignedSerializer
(Pyramid's SignedCookieSessionFactory), timed on the same session data as
bench/token_bench.cc. Prints one JSON object: ns per operation.

Run with /usr/bin/python3 (Debian's python3-itsdangerous, python3-webob).
"""
import json
import sys
import timeit

from itsdangerous import URLSafeTimedSerializer
from webob.cookies import SignedSerializer

SECRET = "k" * 16 + "9f8e7d6c5b4a3928"  # 32 bytes, benchmark only
DATA = {"user_id": "12345",
        "csrf_token": "Jb3kC0tq2n8Qm4XvX1yZ0aBcDeFgHiJkLmNoPqRsTuV",
        "theme": "dark", "cart": "[1,2,3]"}


def per_op_ns(fn, min_seconds=0.5):
    number = 1000
    while True:
        t = timeit.timeit(fn, number=number)
        if t >= min_seconds:
            return t / number * 1e9
        number *= 2


def main():
    its = URLSafeTimedSerializer(SECRET, salt="cookie-session")
    its_token = its.dumps(DATA)
    webob = SignedSerializer(SECRET, salt="pyramid.session.", hashalg="sha512")
    webob_token = webob.dumps(DATA)
    results = {
        "itsdangerous_dumps_ns": per_op_ns(lambda: its.dumps(DATA)),
        "itsdangerous_loads_ns": per_op_ns(
            lambda: its.loads(its_token, max_age=3600)),
        "webob_dumps_ns": per_op_ns(lambda: webob.dumps(DATA)),
        "webob_loads_ns": per_op_ns(lambda: webob.loads(webob_token)),
    }
    json.dump(results, sys.stdout)
    print()


if __name__ == "__main__":
    main()
