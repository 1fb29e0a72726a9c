"""sessiond on a Redis Cluster against sessiond on one Redis: LOAD and
COMMIT at N=16 and N=64 connections (bench/loadgen, one request in flight
each), and COMMIT on the cluster with wait_replicas = 1 for every write
(wait_writes = "all": what WAIT costs). It starts its own servers on free
loopback ports, persistence off: one redis-server, and a cluster of 3
primaries and 3 replicas made with `redis-cli --cluster create`. Servers
are pinned to --server-cpu and loadgen to --client-cpu (taskset), as in
bench/run.py. Prints one JSON object:

  {"single": {"load": {"16": {"rps", "p50_us", "p99_us", "errors"}, "64":
   ...}, "commit": {...}}, "cluster": {...}, "cluster_wait": {"commit":
   {...}}, "seconds": S}

Run with /usr/bin/python3 from the repository root:

  /usr/bin/python3 bench/redis_cluster_bench.py --build build/default
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REDIS_SERVER = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"
CONNECTIONS = (16, 64)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_ports(n):
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


class Servers:
    """Every process started here, stopped (SIGTERM, then SIGKILL) at the
    end whatever happens."""

    def __init__(self, cpu):
        self.cpu = cpu
        self.procs = []

    def start(self, argv, log_path):
        if self.cpu is not None:
            argv = ["taskset", "-c", self.cpu] + argv
        out = open(log_path, "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((p, out, log_path, argv))
        return p

    def check(self, p):
        for q, _, path, argv in self.procs:
            if q is p and q.poll() is not None:
                with open(path, "rb") as f:
                    tail = f.read()[-2000:].decode(errors="replace")
                raise RuntimeError("%s exited:\n%s" % (argv, tail))

    def stop(self, p):
        for entry in list(self.procs):
            q, out, _, _ = entry
            if q is not p:
                continue
            if q.poll() is None:
                q.send_signal(signal.SIGTERM)
                try:
                    q.wait(10)
                except subprocess.TimeoutExpired:
                    q.kill()
                    q.wait()
            out.close()
            self.procs.remove(entry)

    def stop_all(self):
        for q, _, _, _ in list(self.procs):
            self.stop(q)


def cli(port, *args):
    r = subprocess.run([REDIS_CLI, "-p", str(port)] + list(args),
                       capture_output=True, text=True, timeout=30)
    return r.stdout


def wait_until(what, check, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


def redis_conf(d, port, cluster, bus_port=None):
    os.makedirs(d, exist_ok=True)
    lines = ["port %d" % port, "bind 127.0.0.1", "protected-mode no",
             "daemonize no", "dir " + d, "logfile " + d + "/redis.log",
             'save ""', "appendonly no"]
    if cluster:
        lines += ["cluster-enabled yes", "cluster-config-file nodes.conf",
                  "cluster-port %d" % bus_port, "cluster-node-timeout 5000",
                  "repl-diskless-sync yes", "repl-diskless-sync-delay 0"]
    path = os.path.join(d, "redis.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def start_single(servers, tmp):
    port = free_ports(1)[0]
    d = os.path.join(tmp, "single")
    p = servers.start([REDIS_SERVER, redis_conf(d, port, False)],
                      os.path.join(tmp, "single.out"))
    wait_until("redis-server", lambda: (servers.check(p) or True) and
               cli(port, "ping").strip() == "PONG")
    return port


def start_cluster(servers, tmp):
    ports = free_ports(12)
    nodes = [(ports[2 * i], ports[2 * i + 1]) for i in range(6)]
    for i, (port, bus) in enumerate(nodes):
        d = os.path.join(tmp, "node-%d" % i)
        servers.start([REDIS_SERVER, redis_conf(d, port, True, bus)],
                      os.path.join(tmp, "node-%d.out" % i))
    for port, _ in nodes:
        wait_until("node %d" % port, lambda: cli(port, "ping").strip() == "PONG")
    r = subprocess.run([REDIS_CLI, "--cluster", "create"] +
                       ["127.0.0.1:%d" % p for p, _ in nodes] +
                       ["--cluster-replicas", "1", "--cluster-yes"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("redis-cli --cluster create: " + r.stdout + r.stderr)

    def healthy():
        for port, _ in nodes:
            if "cluster_state:ok" not in cli(port, "cluster", "info"):
                return False
            repl = cli(port, "info", "replication")
            if "role:slave" in repl and "master_link_status:up" not in repl:
                return False
        return True
    wait_until("a healthy cluster", healthy)
    return [p for p, _ in nodes]


def sessiond_config(tmp, name, endpoint, redis_lines):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "sessiond.conf")
    with open(path, "w") as f:
        f.write('[server]\nlisten = ["%s"]\nadmin = "ipc://%s/admin.sock"\n'
                '[store]\nbackend = "redis"\ndata_dir = "%s"\n'
                '[redis]\nkey_prefix = "%s"\n%s\n'
                '[keys]\nfile = "%s/keyring.toml"\n[log]\nlevel = "warn"\n'
                % (endpoint, d, d, name, "\n".join(redis_lines), d))
    return path


def loadgen(args, endpoint, verb, n, seconds, warmup=1.0, timeout=None):
    argv = [os.path.join(args.build, "bench", "loadgen"), "-e", endpoint,
            "--verb", verb, "-n", str(n), "-k", "1", "--seconds",
            str(seconds), "--warmup", str(warmup)]
    if args.client_cpu is not None:
        argv = ["taskset", "-c", args.client_cpu] + argv
    r = subprocess.run(argv, capture_output=True, text=True,
                       timeout=timeout or seconds + warmup + 300)
    if r.returncode != 0:
        raise RuntimeError("loadgen failed: %s %s" % (r.stdout, r.stderr))
    return json.loads(r.stdout.strip().splitlines()[-1])


def ping_answers(args, endpoint):
    """One PING answered; False (not a hang) while sessiond is starting."""
    try:
        return loadgen(args, endpoint, "ping", 1, 0.05, 0,
                       timeout=5)["errors"] == 0
    except (subprocess.TimeoutExpired, RuntimeError):
        return False


def measure(args, servers, tmp, name, redis_lines, verbs):
    # The app socket on ipc, sessiond's default: both rows (one Redis and
    # the cluster) use it, so they compare, and no tcp opt-out is needed.
    endpoint = "ipc://%s/app.sock" % os.path.join(tmp, name)
    conf = sessiond_config(tmp, name, endpoint, redis_lines)
    p = servers.start([os.path.join(args.build, "src", "cli", "sessiond"),
                       "-c", conf], conf + ".log")
    try:
        wait_until("sessiond (%s)" % name,
                   lambda: (servers.check(p) or True) and
                   ping_answers(args, endpoint),
                   timeout=30)
        out = {}
        for verb in verbs:
            out[verb] = {}
            for n in CONNECTIONS:
                log("== %s: %s, N=%d" % (name, verb, n))
                r = loadgen(args, endpoint, verb, n, args.seconds)
                out[verb][str(n)] = {k: r[k] for k in
                                     ("rps", "p50_us", "p99_us", "errors")}
                if r["errors"]:
                    out[verb][str(n)]["first_error"] = r["first_error"]
        return out
    finally:
        servers.stop(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build/default",
                    help="build directory (sessiond and bench/loadgen)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--client-cpu", default="1")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    for tool in (REDIS_SERVER, REDIS_CLI):
        if not os.access(tool, os.X_OK):
            sys.exit("%s is not installed (apt-get install redis-server)" % tool)
    if shutil.which("taskset") is None:
        args.server_cpu = args.client_cpu = None
    tmp = tempfile.mkdtemp(prefix="redis-cluster-bench-")
    servers = Servers(args.server_cpu)
    try:
        single = start_single(servers, tmp)
        cluster = start_cluster(servers, tmp)
        nodes = ", ".join('"127.0.0.1:%d"' % p for p in cluster)
        result = {
            "single": measure(args, servers, tmp, "single",
                              ["host = \"127.0.0.1\"", "port = %d" % single],
                              ("load", "commit")),
            "cluster": measure(args, servers, tmp, "cluster",
                               ["cluster_nodes = [%s]" % nodes],
                               ("load", "commit")),
            "cluster_wait": measure(args, servers, tmp, "cluster_wait",
                                    ["cluster_nodes = [%s]" % nodes,
                                     "wait_replicas = 1",
                                     "wait_timeout_ms = 1000",
                                     'wait_writes = "all"'],
                                    ("commit",)),
            "seconds": args.seconds,
        }
        print(json.dumps(result))
    finally:
        servers.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
