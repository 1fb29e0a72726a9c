"""One source of truth for the verbs and the error codes (issue 11).

The server's dispatch table and code table (printed by verb_table_dump) are
the truth. This test fails when
  - a verb of the dispatch table is missing from docs/protocol.md's verb
    tables, or an error code from its error table;
  - a client does not speak a verb (each verb must appear in the client's
    sources as a quoted string, e.g. "LOAD" or 'LOAD');
  - a client maps an error code into another group than the server's (the
    groups of docs/protocol.md: what the caller should do), does not know a
    code, or knows a wire code the server does not send.

Adding a client is one row of CLIENTS: its name, the files that must name
every verb, and the adapter that reads its error mapping (or None when the
client uses the server's own table, as the C++ client does). An adapter runs
the client's own code in its own language and prints JSON
{"groups": {code: group}, "wire_codes": [...]}.

Usage: verb_table_test.py --dump BUILD/tests/verb_table_dump --root SOURCE_DIR
"""

import argparse
import json
import os
import re
import subprocess
import sys

# Codes a client may raise itself, never sent by the server (ROUND.md).
CLIENT_SIDE_CODES = {"TIMEOUT", "PROTOCOL", "CIRCUIT_OPEN"}

# Each adapter maps the client's group base classes onto the server's group
# names (status.h, ErrorGroupName) and prints the groups of the codes given
# in argv[1] (a JSON list), and the wire codes the client declares.
PYTHON_ERRORS = r"""
import json, sys
import sessiond.errors as e
groups = [(e.CallerError, "caller"), (e.TooLarge, "too_large"),
          (e.Conflict, "conflict"), (e.CsrfMismatch, "csrf"),
          (e.InvalidCookie, "invalid_cookie"), (e.Unavailable, "unavailable"),
          (e.Internal, "internal")]
out = {}
for code in json.loads(sys.argv[1]):
    err = e.error_for(code)
    out[code] = next((g for cls, g in groups if isinstance(err, cls)), "unknown")
print(json.dumps({"groups": out, "wire_codes": sorted(e.WIRE_CODES)}))
"""

RUBY_ERRORS = r"""
require "json"
require "sessiond/errors"
groups = [[Sessiond::CallerError, "caller"], [Sessiond::TooLarge, "too_large"],
          [Sessiond::Conflict, "conflict"], [Sessiond::CsrfMismatch, "csrf"],
          [Sessiond::InvalidCookie, "invalid_cookie"],
          [Sessiond::Unavailable, "unavailable"], [Sessiond::Internal, "internal"]]
out = {}
JSON.parse(ARGV[0]).each do |code|
  err = Sessiond.error_for(code)
  hit = groups.find { |cls, _| err.is_a?(cls) }
  out[code] = hit ? hit[1] : "unknown"
end
puts JSON.generate({"groups" => out, "wire_codes" => Sessiond::WIRE_CODES.sort})
"""

PHP_ERRORS = r"""
require $argv[1];
use Sessiond\Exception as E;
$groups = [E\CallerException::class => 'caller', E\TooLargeException::class => 'too_large',
           E\ConflictException::class => 'conflict', E\CsrfMismatchException::class => 'csrf',
           E\InvalidCookieException::class => 'invalid_cookie',
           E\UnavailableException::class => 'unavailable', E\InternalException::class => 'internal'];
$out = [];
foreach (json_decode($argv[2], true) as $code) {
    $err = E\SessiondException::fromWire($code);
    $out[$code] = 'unknown';
    foreach ($groups as $cls => $g) {
        if ($err instanceof $cls) { $out[$code] = $g; break; }
    }
}
$wire = E\SessiondException::wireCodes();
sort($wire);
echo json_encode(['groups' => $out, 'wire_codes' => $wire]), "\n";
"""

NODE_ERRORS = r"""
const e = require(process.argv[1]);
const groups = [[e.CallerError, 'caller'], [e.TooLarge, 'too_large'],
  [e.Conflict, 'conflict'], [e.CsrfMismatch, 'csrf'],
  [e.InvalidCookie, 'invalid_cookie'], [e.Unavailable, 'unavailable'],
  [e.Internal, 'internal']];
const out = {};
for (const code of JSON.parse(process.argv[2])) {
  const err = e.errorFor(code);
  const hit = groups.find(([cls]) => err instanceof cls);
  out[code] = hit ? hit[1] : 'unknown';
}
console.log(JSON.stringify({groups: out, wire_codes: [...e.WIRE_CODES].sort()}));
"""


def python_errors(package_dir):
    def run(root, codes):
        env = dict(os.environ, PYTHONPATH=os.path.join(root, package_dir))
        return ["/usr/bin/python3", "-c", PYTHON_ERRORS, json.dumps(codes)], env
    return run


def ruby_errors(lib_dir):
    def run(root, codes):
        return ["ruby", "-I", os.path.join(root, lib_dir), "-e", RUBY_ERRORS,
                json.dumps(codes)], None
    return run


def php_errors(autoload):
    def run(root, codes):
        return ["php", "-r", PHP_ERRORS, "--", os.path.join(root, autoload),
                json.dumps(codes)], None
    return run


def node_errors(errors_module):
    def run(root, codes):
        return ["node", "-e", NODE_ERRORS, os.path.join(root, errors_module),
                json.dumps(codes)], None
    return run


# (name, files that must name every verb, error adapter)
CLIENTS = [
    ("C++", ["src/client/client.cc", "include/sessiond/client.h"], None),
    ("Python", ["clients/python/sessiond/client.py"],
     python_errors("clients/python")),
    ("Ruby", ["clients/ruby/lib/sessiond/client.rb"],
     ruby_errors("clients/ruby/lib")),
    ("PHP", ["clients/php/src/Client.php", "clients/php/src/AdminClient.php"],
     php_errors("clients/php/autoload.php")),
    ("Node", ["clients/node/lib/client.js"],
     node_errors("clients/node/lib/errors.js")),
]


def read(root, path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return f.read()


def check_docs(root, verbs, codes, problems):
    text = read(root, "docs/protocol.md")
    # A verb is documented by its row in a verb table: | `VERB` | ...
    documented = set(re.findall(r"^\|\s*`([A-Z_]+)`\s*\|", text, re.M))
    for verb in verbs:
        if verb not in documented:
            problems.append(f"docs/protocol.md: no table row for verb {verb}")
    for code in codes:
        if code not in documented:
            problems.append(f"docs/protocol.md: no table row for error {code}")


def check_client_verbs(root, name, files, verbs, problems):
    text = "\n".join(read(root, f) for f in files)
    # C++ headers name verbs in their comments (// LOAD: ...), sources as
    # string literals; other clients as string literals.
    quoted = set(re.findall(r"[\"']([A-Z][A-Z_]+)[\"']", text))
    for verb in verbs:
        if verb not in quoted:
            problems.append(f"{name} client ({', '.join(files)}): "
                            f"never names the verb {verb}")
    for path in files:
        if name == "C++" and path.endswith(".h"):
            header_words = set(re.findall(r"\b([A-Z][A-Z_]+)\b",
                                          read(root, path)))
            for verb in verbs:
                if verb not in header_words:
                    problems.append(f"{path}: does not document the verb {verb}")


def check_client_errors(root, name, adapter, codes, problems):
    argv, env = adapter(root, sorted(codes))
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True,
                              timeout=60, cwd=root)
    except FileNotFoundError as e:
        problems.append(f"{name} client: cannot run {argv[0]}: {e}")
        return
    if done.returncode != 0:
        problems.append(f"{name} client: reading its errors failed:\n"
                        f"{done.stderr.strip()}")
        return
    mapping = json.loads(done.stdout)
    for code, group in sorted(codes.items()):
        got = mapping["groups"].get(code, "unknown")
        if got == "unknown":
            problems.append(f"{name} client: no error class for {code} "
                            f"(the server sends it; group {group})")
        elif got != group:
            problems.append(f"{name} client: {code} is in group {got}, "
                            f"the server's is {group}")
    for code in mapping["wire_codes"]:
        if code not in codes and code not in CLIENT_SIDE_CODES:
            problems.append(f"{name} client: knows wire code {code}, which "
                            f"the server never sends")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dump", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--client", action="append",
                        help="check only these clients (by name)")
    args = parser.parse_args()
    tables = json.loads(subprocess.run([args.dump], capture_output=True,
                                       text=True, check=True).stdout)
    verbs = [row["verb"] for row in tables["verbs"]]
    codes = {row["code"]: row["group"] for row in tables["codes"]}

    problems = []
    check_docs(args.root, verbs, codes, problems)
    for name, files, adapter in CLIENTS:
        if args.client and name not in args.client:
            continue
        check_client_verbs(args.root, name, files, verbs, problems)
        if adapter is not None:
            check_client_errors(args.root, name, adapter, codes, problems)
        print(f"{name}: checked", file=sys.stderr)

    if problems:
        print("The verb and error tables disagree:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print(f"{len(verbs)} verbs and {len(codes)} error codes agree with "
          f"docs/protocol.md and {len(CLIENTS)} clients")
    return 0


if __name__ == "__main__":
    sys.exit(main())
