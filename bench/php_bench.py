"""The comparison PHP users make: one small page (bench/php_bench.php) that
reads the session and renders a few bytes, served by the same `php -S`
(same workers, same ini) and driven by the same ab (apache2-utils) at the
same concurrency, with
  (a) PHP's session.save_handler = redis (Debian's php-redis) on a real
      redis-server, persistent connections (its fastest set-up), and
      without them (its default),
  (b) sessiond through clients/php's session handler (a persistent
      ZeroMQ socket per worker, the default), and without persistence,
  (c) sessiond unreachable: the rate at which the page answers its 503
      (the circuit breaker fails fast), against (b),
  (d) with --sessiond-bin: a sessiond stopped and started again, and how
      long after it answers PING the page succeeds again.
Prints one JSON object: requests per second for each, the down/up ratio
and the recovery time in seconds.

  /usr/bin/python3 bench/php_bench.py --redis-port P --sessiond ENDPOINT \
      --seconds S [--sessiond-bin build/default/src/cli/sessiond]

Run with clients/python on PYTHONPATH for (d) (bench/run.py does it). ab
and php -S inherit this process's CPU pinning (run.py pins load
generators to one core, servers to the other).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "bench", "php_bench.php")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PhpServer:
    """php -S on the bench page, in its own process group (php -S leaves
    its workers running when only the master is signalled)."""

    def __init__(self, env, ini, workers, log_dir):
        self.port = free_port()
        argv = ["php", "-d", "display_errors=0", "-d", "log_errors=1"]
        for setting in ini:
            argv += ["-d", setting]
        argv += ["-S", "127.0.0.1:%d" % self.port, PAGE]
        self.log_path = os.path.join(log_dir, "php-%d.log" % self.port)
        self.log = open(self.log_path, "wb")
        self.p = subprocess.Popen(
            argv, env=dict(os.environ, PHP_CLI_SERVER_WORKERS=str(workers),
                           **env),
            stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if self.p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("php -S did not start:\n" + self.tail())
                time.sleep(0.02)

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def tail(self):
        with open(self.log_path, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def stop(self):
        try:
            os.killpg(self.p.pid, signal.SIGTERM)
            self.p.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def get(url, cookie=None):
    """(status, body, Set-Cookie name=value or None)."""
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, body, headers = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, body, headers = e.code, e.read(), e.headers
    set_cookie = headers.get("Set-Cookie")
    pair = set_cookie.split(";", 1)[0] if set_cookie else None
    return status, body.decode(errors="replace"), pair


def login(server):
    status, body, pair = get(server.url("/login"))
    if status != 200 or pair is None:
        raise RuntimeError("login failed (%s %r):\n%s" % (status, body, server.tail()))
    status, body, _ = get(server.url("/"), pair)
    if status != 200 or "12345" not in body:
        raise RuntimeError("the page does not see the session: %s %r" % (status, body))
    return pair


def ab(url, cookie, seconds, concurrency, expect_status=200):
    """Requests per second over `seconds` (ab -t), checked: every request
    completed and answered expect_status."""
    argv = ["ab", "-q", "-t", str(seconds), "-n", "100000000",
            "-c", str(concurrency), "-s", "10"]
    if cookie:
        argv += ["-C", cookie]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True,
                         timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError("ab failed: " + out.stderr[-1000:])
    text = out.stdout
    rate = float(re.search(r"Requests per second:\s+([\d.]+)", text).group(1))
    complete = int(re.search(r"Complete requests:\s+(\d+)", text).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", text).group(1))
    m = re.search(r"Non-2xx responses:\s+(\d+)", text)
    non2xx = int(m.group(1)) if m else 0
    if expect_status == 200 and (failed or non2xx):
        raise RuntimeError("%d failed, %d non-2xx of %d:\n%s" % (
            failed, non2xx, complete, text[-1500:]))
    # (ab counts the answers of requests still in flight at -t's end as
    # non-2xx too, so there can be a few more of them than completions.)
    if expect_status != 200 and non2xx < complete:
        raise RuntimeError("expected every answer to be %d: %d of %d were" % (
            expect_status, non2xx, complete))
    return rate


def measure(server, cookie, args, expect_status=200):
    ab(server.url("/"), cookie, 1, args.concurrency, expect_status)  # warm-up
    return ab(server.url("/"), cookie, args.seconds, args.concurrency,
              expect_status)


def recovery(args, tmp):
    """Seconds from a restarted sessiond answering PING to the page's first
    200, through php -S (the breaker had opened while it was down)."""
    sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
    from sessiond.testing import SessiondProcess
    daemon = SessiondProcess(args.sessiond_bin, transport="ipc").start()
    try:
        env = {"BENCH_STORE": "sessiond", "SESSIOND_ENDPOINT": daemon.endpoint}
        with PhpServer(env, [], args.workers, tmp) as server:
            cookie = login(server)
            daemon.stop()
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:  # let the breaker open and back off
                status, _, _ = get(server.url("/"), cookie)
                assert status == 503, status
            daemon.start()
            back = time.monotonic()
            while True:
                status, _, _ = get(server.url("/"), cookie)
                if status == 200:
                    return time.monotonic() - back
                if time.monotonic() - back > 30:
                    raise RuntimeError("no success 30 s after sessiond came back")
                time.sleep(0.005)
    finally:
        daemon.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--sessiond", required=True, help="app socket endpoint")
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--workers", type=int, default=4,
                    help="PHP_CLI_SERVER_WORKERS of php -S")
    ap.add_argument("--sessiond-bin",
                    help="a sessiond binary, to measure recovery after a restart")
    args = ap.parse_args()
    seconds = max(1, int(round(args.seconds)))
    args.seconds = seconds
    for tool in ("php", "ab"):
        if shutil.which(tool) is None:
            sys.exit("php_bench: %s is missing (scripts/install-deps.sh test)" % tool)
    tmp = tempfile.mkdtemp(prefix="php-bench-")
    out = {}
    try:
        redis_path = "tcp://127.0.0.1:%d" % args.redis_port
        for name, path in (("php_redis", redis_path + "?persistent=1"),
                           ("php_redis_nonpersistent", redis_path)):
            ini = ["session.save_handler=redis", "session.save_path=\"%s\"" % path]
            with PhpServer({"BENCH_STORE": "redis"}, ini, args.workers, tmp) as s:
                out[name] = measure(s, login(s), args)
            print("php_bench: %s %.0f/s" % (name, out[name]), file=sys.stderr)
        for name, persistent in (("php_sessiond", True),
                                 ("php_sessiond_nonpersistent", False)):
            env = {"BENCH_STORE": "sessiond", "SESSIOND_ENDPOINT": args.sessiond}
            if not persistent:
                env["BENCH_NONPERSISTENT"] = "1"
            with PhpServer(env, [], args.workers, tmp) as s:
                cookie = login(s)
                out[name] = measure(s, cookie, args)
            print("php_bench: %s %.0f/s" % (name, out[name]), file=sys.stderr)
        # Unreachable: nothing listens on this socket. Same page, same cookie.
        env = {"BENCH_STORE": "sessiond",
               "SESSIOND_ENDPOINT": "ipc://%s/nobody.sock" % tmp}
        with PhpServer(env, [], args.workers, tmp) as s:
            status, body, _ = get(s.url("/"), cookie)
            if status != 503:
                raise RuntimeError("sessiond down did not answer 503: %s %r" % (status, body))
            out["php_sessiond_down"] = measure(s, cookie, args, expect_status=503)
        out["down_ratio"] = out["php_sessiond_down"] / out["php_sessiond"]
        if args.sessiond_bin:
            out["recovery_s"] = recovery(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
