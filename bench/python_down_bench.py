"""What a dead sessiond costs a Flask app, and how fast it recovers: the
app of flask_bench.py on clients/python's Flask integration, driven
in-process by Flask's test client, measured
  (a) with sessiond up (requests per second),
  (b) with sessiond killed: the 503 pages per second, after the one request
      that waits for the client timeout and opens the circuit breaker
      (whose wait is reported too),
  (c) after sessiond is started again: the seconds from the daemon
      answering PING to the app's first 200.
Prints one JSON object. This script runs its own daemon (it has to stop
it): --sessiond-bin, else SESSIOND_BIN, else the newest build.

Run with /usr/bin/python3 and clients/python on PYTHONPATH.
"""
import argparse
import json
import os
import sys
import time

from flask import Flask, session


def make_app(client):
    from sessiond.flask import Sessiond
    app = Flask("down_bench")
    Sessiond(app, client, csrf=False)

    @app.route("/login")
    def login():
        session["user_id"] = "12345"
        return "ok"

    @app.route("/")
    def index():
        return "hello %s" % session.get("user_id")

    return app


def rate(http, status, seconds):
    count = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(50):
            r = http.get("/")
            if r.status_code != status:
                raise RuntimeError("status %d, expected %d" % (r.status_code,
                                                               status))
        count += 50
    return count / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessiond-bin", default=os.environ.get("SESSIOND_BIN"))
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--timeout", type=float, default=2.0,
                    help="the client's per-call timeout (default 2 s)")
    args = ap.parse_args()

    from sessiond import Client
    from sessiond.testing import SessiondProcess
    server = SessiondProcess(args.sessiond_bin, transport="tcp")
    try:
        server.start()
        client = Client(server.endpoint, timeout=args.timeout)
        http = make_app(client).test_client()
        assert http.get("/login").status_code == 200
        for _ in range(200):  # warm-up
            http.get("/")
        up = rate(http, 200, args.seconds)

        server.kill()
        time.sleep(0.2)  # ZeroMQ sees the connection drop (a request in
        # flight at that moment would wait for the whole client timeout)
        t = time.perf_counter()
        assert http.get("/").status_code == 503
        first_down = time.perf_counter() - t
        down = rate(http, 503, args.seconds)

        server.start()  # returns once the daemon answers PING
        t = time.perf_counter()
        while http.get("/").status_code != 200:
            if time.perf_counter() - t > 30:
                raise RuntimeError("the app did not recover within 30 s")
        recovery = time.perf_counter() - t
    finally:
        server.close()
    print(json.dumps({"up_rps": up, "down_rps": down,
                      "down_vs_up": down / up,
                      "first_down_request_s": first_down,
                      "recovery_s": recovery}))


if __name__ == "__main__":
    sys.exit(main())
