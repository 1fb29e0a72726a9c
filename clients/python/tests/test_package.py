"""The package as a user gets it: `pip install` from this folder works
offline (Debian's setuptools as the build backend, pyzmq declared and
taken from the system), the installed copy is importable and typed, and
the source passes `mypy --strict` (Debian's mypy)."""

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{argv} failed ({result.returncode}):\n{result.stdout}\n"
        f"{result.stderr}")
    return result


def test_mypy_strict_is_clean():
    pytest.importorskip("mypy", reason="Debian's mypy: scripts/install-deps.sh")
    out = run([sys.executable, "-m", "mypy", "--strict", "--config-file",
               os.path.join(HERE, "pyproject.toml"), "sessiond"], cwd=HERE)
    assert "Success" in out.stdout


def test_pip_installs_it_offline_with_its_dependency(tmp_path):
    # A copy, so that the build leaves nothing in the source tree.
    source = tmp_path / "source"
    shutil.copytree(HERE, source, ignore=shutil.ignore_patterns(
        "__pycache__", "build", "*.egg-info", "tests", ".pytest_cache"))
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "--no-build-isolation", "--no-index",
         "--quiet", str(source)], env=dict(os.environ, PYTHONPATH=""))
    probe = run([python, "-c", (
        "import importlib.metadata as m, os, sessiond, sessiond.flask, "
        "sessiond.pyramid, sessiond.django.session\n"
        "print(os.path.dirname(sessiond.__file__))\n"
        "print(m.version('sessiond'))\n"
        "print(m.requires('sessiond'))")],
        cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=""))
    where, version, requires = probe.stdout.splitlines()
    assert where.startswith(str(venv)), where  # the installed copy
    assert version == "0.1.0"
    assert "pyzmq" in requires
    assert os.path.exists(os.path.join(where, "py.typed"))
    assert os.path.exists(os.path.join(where, "django", "middleware.py"))
