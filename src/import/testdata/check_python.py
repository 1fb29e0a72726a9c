#!/usr/bin/python3
"""Reads back, with the real Flask, Pyramid and Django, the cookies that
sessiond's Render made (import_vector_test writes <format>_rendered.json
into the vectors directory): each must be accepted, with the data sessiond
rendered. Run by CTest as import_readback_python after import_verify_python.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mint_python  # noqa: E402  (the same readers that made the vectors)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vectors", required=True)
    args = ap.parse_args()
    libs = {"flask": mint_python.flask_lib(),
            "pyramid": mint_python.pyramid_lib(),
            "django": mint_python.django_lib()}
    failures = 0
    total = 0
    for fmt, lib in libs.items():
        path = os.path.join(args.vectors, fmt + "_rendered.json")
        with open(path) as f:
            entries = json.load(f)
        if len(entries) < 10:
            print("%s: only %d rendered cookies" % (fmt, len(entries)))
            failures += 1
        for e in entries:
            total += 1
            cookie = bytes.fromhex(e["cookie"])
            answer = lib["read"](e["config"], cookie, e["now_us"])
            want = json.dumps(json.loads(e["data"]))
            if answer is None or not answer[0]:
                failures += 1
                print("%s %s: the framework refuses our cookie (%s)"
                      % (fmt, e["name"], answer and answer[1]))
                continue
            got = json.dumps(json.loads(answer[1]))
            if got != want:
                failures += 1
                print("%s %s: data differs\n  framework: %s\n  sessiond:  %s"
                      % (fmt, e["name"], got[:300], want[:300]))
    print("check_python: %d rendered cookies read back, %d failures"
          % (total, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
