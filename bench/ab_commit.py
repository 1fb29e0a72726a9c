"""A/B of durable COMMIT between two sessiond binaries, side by side:

    /usr/bin/python3 bench/ab_commit.py OLD_SESSIOND NEW_SESSIOND \
        [--build build/prof] [--rounds 3]

Each round starts each binary in turn on a fresh LMDB data directory on
the build disk (COMMIT must pay a real fsync; a tmpfs would not), pinned to
core 0, and runs loadgen (from --build) on core 1: COMMIT at N=16 and N=1
with one request in flight, then, for scale, loadgen's echo verb against
the same server: a LOAD of a malformed cookie, which sessiond refuses at
once (its cheapest answered request; the bare echo server is run.py's).
Prints one markdown row per binary per round: req/s, p50, p99, the write
transactions and the writer's own fsyncs (STATS group_commit) over that
server's runs. The configuration, the readiness wait, loadgen and STATS
are run.py's (Bench), so both measure the same way.
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py, beside this file)


def measure(bench, binary, name):
    """One server: the COMMIT runs, its STATS, the refused LOAD."""
    endpoint = bench.endpoint("ipc", name)
    config = bench.sessiond_config(name, endpoint)
    with run.Proc(run.pinned(run.SERVER_CPU, [binary, "-c", config]),
                  config + ".log") as server:
        bench.wait_ping(endpoint)
        c16 = bench.loadgen(endpoint, "commit", 16, 1, seconds=3)
        c1 = bench.loadgen(endpoint, "commit", 1, 1, seconds=3)
        stats = bench.sessiond_stats(name).get("group_commit", {})
        refused = bench.loadgen(endpoint, "echo", 16, 1, seconds=2)
        server.check_alive()
    return c16, c1, stats, refused


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--build", default="build/prof",
                    help="build tree with bench/loadgen and sessionctl")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    binaries = [os.path.realpath(args.old), os.path.realpath(args.new)]
    bench = run.Bench(args.build, seconds=3, quick=False)
    try:
        print("| round | binary | COMMIT N=16 req/s | p50 µs | p99 µs | "
              "COMMIT N=1 req/s | p50 µs | transactions | own fsyncs | "
              "refused LOAD N=16 req/s | N=16 vs refused LOAD |")
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
              "| ---: | ---: |")
        for round_no in range(1, args.rounds + 1):
            for i, binary in enumerate(binaries):
                c16, c1, stats, refused = measure(
                    bench, binary, "ab-%d-%d" % (round_no, i))
                print("| %d | %s | %.0f | %.1f | %.1f | %.0f | %.1f | %s | %s "
                      "| %.0f | %.2fx |" % (
                          round_no, os.path.basename(binary), c16["rps"],
                          c16["p50_us"], c16["p99_us"], c1["rps"],
                          c1["p50_us"], stats.get("transactions", "?"),
                          stats.get("syncs", "?"), refused["rps"],
                          c16["rps"] / refused["rps"]), flush=True)
    finally:
        shutil.rmtree(bench.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
