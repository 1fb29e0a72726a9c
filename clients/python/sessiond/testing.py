"""SessiondProcess: a real sessiond daemon for tests and examples.

Finds the binary (env SESSIOND_BIN, else the newest build/*/src/cli/sessiond
of this checkout), writes a config into a private directory (LMDB data dir,
cookies without Secure so plain-http test clients keep them), starts it,
waits until it answers PING, and stops it. stop() then start() keeps the
socket, the data and the keyring, so sessions survive a restart as they
would in production.

The app socket is sessiond's default, ipc://<data dir>/app.sock (a socket
file only the daemon's user and group may open). transport="tcp" serves a
free loopback port with CURVE instead: the launcher generates the server's
and one client's key pair and hands the client's to client() (and prints
them, see main()). transport="insecure-tcp" is loopback tcp without CURVE,
through sessiond's written opt-out; only for tests of that opt-out.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

from . import errors
from .client import AdminClient, Client

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def find_binary() -> Optional[str]:
    """The sessiond binary to test, or None when there is none."""
    path = os.environ.get("SESSIOND_BIN")
    if path:
        return path if os.access(path, os.X_OK) else None
    candidates = [p for p in glob.glob(os.path.join(
        _REPO, "build", "*", "src", "cli", "sessiond")) if os.access(p, os.X_OK)]
    if not candidates:
        return None
    return max(candidates, key=os.path.getmtime)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# The one value of [server] insecure_tcp_without_curve sessiond accepts.
INSECURE_TCP_SENTENCE = "anyone on this machine can log in as any user"

TRANSPORTS = ("ipc", "tcp", "insecure-tcp")


class SessiondProcess:
    """One sessiond daemon in a temporary directory.

    session_options / cookie_options: extra keys for the [session] and
    [cookie] tables (e.g. {"lifetime": 3}). transport: "ipc" (the default
    app socket), "tcp" (loopback with CURVE; self.curve holds the keys) or
    "insecure-tcp" (loopback without CURVE, by the opt-out); tcp_host: the
    loopback address for tcp ("127.0.0.1", "::1" or "localhost"). Use as a
    context manager, or call start() and close().
    """

    def __init__(self, binary: Optional[str] = None,
                 session_options: Optional[Mapping[str, Any]] = None,
                 cookie_options: Optional[Mapping[str, Any]] = None,
                 store: str = "lmdb", transport: str = "ipc",
                 extra_tables: Optional[Mapping[str, Dict[str, Any]]] = None,
                 tcp_host: str = "127.0.0.1") -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}")
        found = binary or find_binary()
        if not found:
            raise FileNotFoundError("no sessiond binary (set SESSIOND_BIN)")
        self.binary: str = found
        self.dir = tempfile.mkdtemp(prefix="sessiond-test-")
        self.transport = transport
        self.port: Optional[int] = None
        # {"server_public", "client_public", "client_secret"} for "tcp".
        self.curve: Optional[Dict[str, str]] = None
        server: Dict[str, Any] = {}
        tables: Dict[str, Dict[str, Any]] = {}
        data_dir = os.path.join(self.dir, "data")
        if transport == "ipc":
            # sessiond's own default, written out so that an older binary
            # (whose default was tcp) serves the same socket.
            self.endpoint = f"ipc://{data_dir}/app.sock"
        else:
            self.port = free_port()
            host = f"[{tcp_host}]" if ":" in tcp_host else tcp_host
            self.endpoint = f"tcp://{host}:{self.port}"
        server["listen"] = [self.endpoint]
        if transport == "insecure-tcp":
            server["insecure_tcp_without_curve"] = INSECURE_TCP_SENTENCE
        if transport == "tcp":
            tables["curve"] = self._write_curve_keys()
        self.admin_endpoint = f"ipc://{self.dir}/admin.sock"
        server["admin"] = self.admin_endpoint
        self.config_path = os.path.join(self.dir, "sessiond.conf")
        self.log_path = os.path.join(self.dir, "sessiond.log")
        self.process: Optional[subprocess.Popen[bytes]] = None
        cookie: Dict[str, Any] = {"secure": False}
        cookie.update(cookie_options or {})
        tables.update(extra_tables or {})
        # Keys for [store] are added to the table the launcher writes.
        store_table: Dict[str, Any] = {"backend": store,
                                       "data_dir": data_dir,
                                       "map_size_mb": 64}
        store_table.update(tables.pop("store", {}))
        with open(self.config_path, "w") as f:
            f.write(_toml({
                "server": server,
                "store": store_table,
                "session": dict(session_options or {}),
                "cookie": cookie,
                "keys": {"file": os.path.join(data_dir, "keyring.toml")},
                "log": {"level": "info"},
                **tables,
            }))

    def _write_curve_keys(self) -> Dict[str, Any]:
        """Generates the server's and one client's CURVE key pair; writes the
        server's secret (0600) and the app list (0644: sessiond refuses a
        list others may write); returns the [curve] table."""
        import zmq
        if not zmq.has("curve"):
            raise RuntimeError("this libzmq has no CURVE support")
        server_public, server_secret = zmq.curve_keypair()
        client_public, client_secret = zmq.curve_keypair()
        self.curve = {"server_public": server_public.decode(),
                      "client_public": client_public.decode(),
                      "client_secret": client_secret.decode()}
        key_path = os.path.join(self.dir, "curve.key")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(server_secret.decode() + "\n")
        list_path = os.path.join(self.dir, "app_clients.pub")
        with open(list_path, "w") as f:
            f.write(self.curve["client_public"] + "\n")
        os.chmod(list_path, 0o644)
        return {"secret_key_file": key_path, "app_clients": list_path}

    def client_options(self) -> Dict[str, str]:
        """What a client needs besides the endpoint: the CURVE keys as
        Client() keyword arguments ({} on ipc)."""
        if not self.curve:
            return {}
        return {"curve_server_key": self.curve["server_public"],
                "curve_public_key": self.curve["client_public"],
                "curve_secret_key": self.curve["client_secret"]}

    def start(self, wait: float = 10.0) -> "SessiondProcess":
        """Starts the daemon and waits until it answers PING. Raises
        RuntimeError (with the log tail) when it exits or does not answer."""
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.binary, "-c", self.config_path], cwd=self.dir,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        probe = Client(self.endpoint, timeout=0.2, **self.client_options())
        deadline = time.monotonic() + wait
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"sessiond exited with {self.process.returncode}:\n"
                        + self.log_tail())
                try:
                    if probe.ping() == "PONG":
                        return self
                except errors.Unavailable:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("sessiond did not answer PING:\n"
                                       + self.log_tail())
        finally:
            probe.close()

    def stop(self, sig: int = signal.SIGTERM,
             wait: float = 10.0) -> Optional[int]:
        """Stops the daemon (SIGTERM, then SIGKILL) and returns its exit
        code, or None when it was not running."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(wait)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    @property
    def pid(self) -> Optional[int]:
        """The running daemon's process id, or None."""
        return self.process.pid if self.process is not None else None

    def kill(self) -> Optional[int]:
        """Stops the daemon at once (SIGKILL), as a crash would."""
        return self.stop(signal.SIGKILL)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, timeout: float = 2.0) -> Client:
        return Client(self.endpoint, timeout=timeout, **self.client_options())

    def admin_client(self, timeout: float = 2.0) -> AdminClient:
        return AdminClient(self.admin_endpoint, timeout=timeout)

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> "SessiondProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: Optional[Sequence[str]] = None) -> None:
    """A daemon for tests written in other languages.

    /usr/bin/python3 -m sessiond.testing [--ipc | --tcp | --insecure-tcp]
        [--store lmdb|memory] [--session KEY=VALUE]... [--cookie KEY=VALUE]...
        [--table TABLE.KEY=VALUE]...

    Starts one sessiond (SESSIOND_BIN, else the newest build), prints one
    JSON line {"endpoint", "admin_endpoint", "dir", "config", "log", "pid",
    "transport", "curve"} and then obeys commands on stdin, one a line,
    answering one JSON line each: "stop" (SIGTERM), "kill" (SIGKILL),
    "start" (again, same socket, data and keys; the answer carries the new
    pid), "config" (the config text). End of input stops the daemon and
    removes its directory.

    The app socket is ipc:// by default (--ipc says so explicitly). --tcp:
    loopback tcp with CURVE; "curve" is then {"server_public",
    "client_public", "client_secret"} (Z85; throwaway keys made for this
    daemon), null otherwise. --insecure-tcp: loopback tcp without CURVE
    through sessiond's written opt-out, for tests of that opt-out only.
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python3 -m sessiond.testing")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--ipc", dest="transport", action="store_const",
                       const="ipc", help="app socket on ipc:// (the default)")
    which.add_argument("--tcp", dest="transport", action="store_const",
                       const="tcp", help="loopback tcp with CURVE keys")
    which.add_argument("--insecure-tcp", dest="transport",
                       action="store_const", const="insecure-tcp",
                       help="loopback tcp without CURVE (the opt-out)")
    parser.set_defaults(transport="ipc")
    parser.add_argument("--store", default="lmdb")
    parser.add_argument("--session", action="append", default=[],
                        metavar="KEY=VALUE")
    parser.add_argument("--cookie", action="append", default=[],
                        metavar="KEY=VALUE")
    parser.add_argument("--table", action="append", default=[],
                        metavar="TABLE.KEY=VALUE",
                        help="a key of another table, e.g. "
                        "import.rails.cookie=_app_session")
    args = parser.parse_args(argv)

    def pairs(items: List[str]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for item in items:
            key, _, value = item.partition("=")
            out[key] = _parse_scalar(value)
        return out

    tables: Dict[str, Dict[str, Any]] = {}
    for item in args.table:
        name, _, value = item.partition("=")
        table, _, key = name.rpartition(".")
        tables.setdefault(table, {})[key] = _parse_scalar(value)

    server = SessiondProcess(session_options=pairs(args.session),
                             cookie_options=pairs(args.cookie),
                             store=args.store, transport=args.transport,
                             extra_tables=tables)

    def say(**fields: Any) -> None:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()

    try:
        server.start()
        say(endpoint=server.endpoint, admin_endpoint=server.admin_endpoint,
            dir=server.dir, config=server.config_path, log=server.log_path,
            pid=server.pid, transport=server.transport, curve=server.curve)
        for line in sys.stdin:
            command = line.strip()
            if command == "stop":
                say(ok=True, code=server.stop())
            elif command == "kill":
                say(ok=True, code=server.kill())
            elif command == "start":
                server.start()
                say(ok=True, pid=server.pid)
            elif command == "config":
                with open(server.config_path) as f:
                    say(ok=True, config=f.read())
            elif command:
                say(ok=False, error=f"unknown command {command!r}")
    finally:
        server.close()


def _parse_scalar(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return text


def _toml(tables: Mapping[str, Mapping[str, Any]]) -> str:
    """A TOML document from {table: {key: str|int|bool|list}}."""
    out = []
    for table, values in tables.items():
        out.append(f"[{table}]")
        for key, value in values.items():
            out.append(f"{key} = {_toml_value(value)}")
        out.append("")
    return "\n".join(out)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


if __name__ == "__main__":
    main()
