"""Who reaches the app socket, through the Python client and the shared
launcher (sessiond.testing), against a real sessiond: the launcher's
default is the ipc socket another local user cannot use; --tcp is loopback
with CURVE keys it generates; --insecure-tcp is the written opt-out, warned
about in the log; an IPv6 loopback endpoint works.

Running a client as another user needs root (setpriv); without it the test
fails and says so rather than skip.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

import sessiond
from sessiond.testing import INSECURE_TCP_SENTENCE, SessiondProcess

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_DIR = os.path.dirname(HERE)


def test_the_default_transport_is_the_ipc_socket_file(own_sessiond):
    assert own_sessiond.endpoint == (
        "ipc://" + os.path.join(own_sessiond.dir, "data", "app.sock"))
    mode = os.stat(own_sessiond.endpoint[len("ipc://"):]).st_mode & 0o7777
    assert mode == 0o660
    assert own_sessiond.client().ping() == "PONG"


def test_another_local_user_cannot_login_on_the_default_socket(own_sessiond):
    assert os.geteuid() == 0, (
        "this test runs the client as user nobody (setpriv), which needs "
        "root; run the tests as root (CI does)")
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run a client as nobody"
    # Let anyone through the launcher's own temporary directory, so what
    # keeps nobody out is sessiond's doing.
    os.chmod(own_sessiond.dir, 0o711)
    script = (
        "import sys, sessiond\n"
        "c = sessiond.Client(sys.argv[1], timeout=2.0)\n"
        "try:\n"
        "    r = c.login('', 'admin')\n"
        "    print('LOGGED IN as', r.session.user_id)\n"
        "    sys.exit(0)\n"
        "except sessiond.Unavailable as e:\n"
        "    print('refused:', type(e).__name__)\n"
        "    sys.exit(3)\n")
    run = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-c", script, own_sessiond.endpoint],
        env=dict(os.environ, PYTHONPATH=CLIENT_DIR),
        capture_output=True, text=True, timeout=60)
    assert run.returncode == 3, (
        "nobody on the default app socket: " + run.stdout + run.stderr)
    # The daemon's own user still signs in.
    assert own_sessiond.client().login("", "admin").session.user_id == "admin"


def test_tcp_transport_is_loopback_with_curve(make_sessiond):
    server = make_sessiond(transport="tcp")
    assert server.endpoint.startswith("tcp://127.0.0.1:")
    assert set(server.curve) == {"server_public", "client_public",
                                 "client_secret"}
    reply = server.client().login("", "alice")
    assert reply.session.user_id == "alice"
    plain = sessiond.Client(server.endpoint, timeout=0.5)
    with pytest.raises(sessiond.Unavailable):
        plain.login("", "admin")
    plain.close()


def test_insecure_tcp_transport_is_the_logged_opt_out(make_sessiond):
    server = make_sessiond(transport="insecure-tcp")
    assert server.client().ping() == "PONG"
    with open(server.config_path) as f:
        assert INSECURE_TCP_SENTENCE in f.read()
    assert "INSECURE: app socket " + server.endpoint in server.log_tail()


def test_ipv6_loopback_endpoint(make_sessiond):
    server = make_sessiond(transport="tcp", tcp_host="::1")
    assert server.endpoint.startswith("tcp://[::1]:")
    assert server.client().ping() == "PONG"


def test_launcher_command_line_prints_the_curve_keys():
    """What the Ruby, PHP and Node tests read: one JSON line."""
    launcher = subprocess.Popen(
        [sys.executable, "-m", "sessiond.testing", "--tcp",
         "--store", "memory"],
        env=dict(os.environ, PYTHONPATH=CLIENT_DIR),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(launcher.stdout.readline())
        assert info["transport"] == "tcp"
        curve = info["curve"]
        client = sessiond.Client(
            info["endpoint"], timeout=2.0,
            curve_server_key=curve["server_public"],
            curve_public_key=curve["client_public"],
            curve_secret_key=curve["client_secret"])
        assert client.ping() == "PONG"
        client.close()
    finally:
        launcher.stdin.close()
        launcher.wait(30)


def test_launcher_default_prints_an_ipc_endpoint_and_no_keys():
    launcher = subprocess.Popen(
        [sys.executable, "-m", "sessiond.testing", "--store", "memory"],
        env=dict(os.environ, PYTHONPATH=CLIENT_DIR),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(launcher.stdout.readline())
        assert info["endpoint"].startswith("ipc://")
        assert info["transport"] == "ipc"
        assert info["curve"] is None
    finally:
        launcher.stdin.close()
        launcher.wait(30)


def test_unknown_transport_is_refused():
    with pytest.raises(ValueError):
        SessiondProcess(binary="/bin/true", transport="udp")
