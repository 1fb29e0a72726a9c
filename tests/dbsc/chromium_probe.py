#!/usr/bin/python3
"""Does this machine's Chromium run DBSC with software keys, headless?

Starts a tiny DBSC server on localhost (http, or https with a throwaway
self-signed certificate), opens it in headless Chromium (Selenium +
chromedriver, Debian's), and reports what Chromium did: whether the DBSC
flags took (chrome://version), whether it POSTed a registration proof, and
whether it refreshed an expired bound cookie through a 403 challenge. A
manual probe (docs/dbsc.md reports its result), not a test: it needs a few
seconds of real time because Chromium has no injectable clock.

Usage: chromium_probe.py [--tls] [--flags-by local-state|command-line]
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FLAGS = ["enable-standard-device-bound-session-credentials@2",   # for developers
         "enable-bound-session-credentials-software-keys-for-manual-testing@1",
         "enable-standard-device-bound-session-devtools-debugging@1"]
FEATURES = ("--enable-features=DeviceBoundSessions:RequireOriginTrialTokens/"
            "false/RefreshQuota/false,"
            "EnableBoundSessionCredentialsSoftwareKeysForManualTesting")
LAUNCH = ["--headless", "--no-sandbox", "--disable-gpu",
          "--disable-background-networking", "--disable-component-update",
          "--disable-sync", "--no-first-run"]

LOG = []


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _send(self, code, headers=(), body=b""):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        LOG.append((self.command, self.path, dict(self.headers.items())))

    def do_GET(self):
        self._record()
        if self.path.startswith("/login"):
            self._send(200, [
                ("Content-Type", "text/html"),
                ("Secure-Session-Registration",
                 '(ES256 RS256);path="/reg";challenge="chal-reg"'),
                ("Set-Cookie", "auth=login; Path=/; Max-Age=600; HttpOnly")],
                b"<p>login</p>")
        else:
            self._send(200, [("Content-Type", "text/html")], b"<p>page</p>")

    def do_POST(self):
        self._record()
        if self.path == "/reg":
            body = json.dumps({
                "session_identifier": "sid1", "refresh_url": "/refresh",
                "scope": {"include_site": False},
                "credentials": [{"type": "cookie", "name": "auth",
                                 "attributes": "Path=/; HttpOnly"}]}).encode()
            self._send(200, [("Content-Type", "application/json"),
                             ("Set-Cookie", "auth=bound1; Path=/; Max-Age=3; HttpOnly")],
                       body)
        elif self.path == "/refresh":
            if "Secure-Session-Response" not in self.headers:
                self._send(403, [("Secure-Session-Challenge",
                                  '"chal-refresh";id="sid1"')])
            else:
                self._send(200, [("Set-Cookie",
                                  "auth=bound2; Path=/; Max-Age=600; HttpOnly")])
        else:
            self._send(404)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--headed", action="store_true",
                    help="no --headless (run it under xvfb-run)")
    ap.add_argument("--minimal", action="store_true",
                    help="only --headless --no-sandbox (to rule the others out)")
    ap.add_argument("--flags-by", choices=["local-state", "command-line"],
                    default="local-state")
    args = ap.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    work = tempfile.mkdtemp(prefix="dbsc-probe-")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if args.tls:
        import ssl
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                        "-keyout", f"{work}/key.pem", "-out", f"{work}/cert.pem",
                        "-subj", "/CN=localhost"], check=True,
                       capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f"{work}/cert.pem", f"{work}/key.pem")
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        scheme = "https"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"{scheme}://localhost:{srv.server_address[1]}"

    profile = os.path.join(work, "profile")
    os.mkdir(profile)
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    launch = ["--headless", "--no-sandbox"] if args.minimal else LAUNCH
    if args.headed:
        launch = [a for a in launch if a != "--headless"]
    for a in launch + [f"--user-data-dir={profile}"]:
        opts.add_argument(a)
    if args.tls:
        opts.add_argument("--ignore-certificate-errors")
    if args.flags_by == "local-state":
        with open(os.path.join(profile, "Local State"), "w") as f:
            json.dump({"browser": {"enabled_labs_experiments": FLAGS}}, f)
    else:
        opts.add_argument(FEATURES)
        opts.add_argument("--disable-features=DeviceBoundSessionsRefreshQuota")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                              options=opts)
    result = {"chromium": None, "flags_by": args.flags_by, "scheme": scheme}
    try:
        driver.get("chrome://version")
        text = driver.find_element("tag name", "body").text
        result["chromium"] = next(
            (line for line in text.splitlines() if line.startswith("Chromium")),
            text.splitlines()[0])
        result["features_active"] = "DeviceBoundSessions" in text
        driver.get(base + "/login")
        time.sleep(3)            # registration is asynchronous
        driver.get(base + "/page1")
        time.sleep(4)            # the bound cookie (Max-Age=3) expires
        driver.get(base + "/page2")
        time.sleep(1)
    finally:
        driver.quit()
        srv.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    reg = [h for (m, p, h) in LOG if p == "/reg"]
    ref = [h for (m, p, h) in LOG if p == "/refresh"]
    result["registration_posts"] = len(reg)
    result["refresh_posts"] = len(ref)
    if reg and "Secure-Session-Response" in reg[0]:
        tok = reg[0]["Secure-Session-Response"].strip('"').split(".")
        result["registration_proof_header"] = json.loads(b64d(tok[0]))
        result["registration_proof_payload"] = json.loads(b64d(tok[1]))
    page2 = [h for (m, p, h) in LOG if p == "/page2"]
    result["page2_cookie"] = page2[0].get("Cookie") if page2 else None
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
