"""Fixtures for the example's browser test: a real sessiond, the example
app served by waitress (`python3 -m devices_app`, as run-example.sh does),
and headless Chromium browsers driven by Selenium through chromedriver."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(os.path.dirname(HERE), "clients", "python")
sys.path[:0] = [CLIENT, HERE]

from sessiond.testing import SessiondProcess, find_binary, free_port  # noqa: E402


@pytest.fixture
def sessiond_for_example():
    binary = find_binary()
    if binary is None:
        pytest.skip("no sessiond binary: build it (scripts/test.sh) or set "
                    "SESSIOND_BIN")
    with SessiondProcess(binary) as server:
        yield server


@pytest.fixture
def app_url(sessiond_for_example):
    """The example app on a free port, started as `python3 -m devices_app`."""
    port = free_port()
    env = dict(os.environ, PORT=str(port),
               SESSIOND_ENDPOINT=sessiond_for_example.endpoint,
               PYTHONPATH=os.pathsep.join([CLIENT, HERE]))
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([sys.executable, "-m", "devices_app"], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    try:
        while True:
            try:
                urllib.request.urlopen(url + "/login", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail("example app did not start:\n"
                                + log.read().decode(errors="replace"))
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def new_browser():
    """Factory: each call starts one headless Chromium with its own profile
    (its own cookie jar), quit after the test."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers, profiles = [], []

    def start():
        profile = tempfile.mkdtemp(prefix="chromium-profile-")
        profiles.append(profile)
        options = webdriver.ChromeOptions()
        options.binary_location = (shutil.which("chromium")
                                   or "/usr/bin/chromium")
        for arg in ("--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-quic", "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1024,768",
                    f"--user-data-dir={profile}"):
            options.add_argument(arg)
        service = Service(shutil.which("chromedriver")
                          or "/usr/bin/chromedriver")
        driver = webdriver.Chrome(service=service, options=options)
        driver.set_page_load_timeout(30)
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()
    for profile in profiles:
        shutil.rmtree(profile, ignore_errors=True)
