"""A small Flask app on sessiond: log in, see "your devices" (device, IP,
signed in, last seen, this device), and sign out all other locations; a
browser that was signed out is told why when sessiond says so.

create_app(client) builds it; `python3 -m devices_app` serves it with
waitress (see __main__.py); examples/run-example.sh starts everything.
"""

import time

from flask import Flask, flash, redirect, render_template, request, url_for

from sessiond.flask import (Sessiond, current_user_id, list_devices, login,
                            logout, revoked_reason, sign_out_other_locations)

from .users import check_password


def describe_device(user_agent):
    """A short "Browser on OS" label from a User-Agent header."""
    ua = user_agent or ""
    browser = "Unknown browser"
    for token, name in (("Edg/", "Edge"), ("HeadlessChrome", "Headless Chrome"),
                        ("Chrome/", "Chrome"), ("Chromium/", "Chromium"),
                        ("Firefox/", "Firefox"), ("Safari/", "Safari"),
                        ("curl/", "curl")):
        if token in ua:
            browser = name
            break
    system = ""
    for token, name in (("Android", "Android"), ("iPhone", "iPhone"),
                        ("iPad", "iPad"), ("Windows", "Windows"),
                        ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
                        ("Linux", "Linux")):
        if token in ua:
            system = name
            break
    return f"{browser} on {system}" if system else browser


# What sessiond's REVOKED reasons mean to the person at the browser.
SIGNED_OUT_BECAUSE = {
    "signed_out_elsewhere": "You were signed out from another device "
                            "(\u201cSign out all other locations\u201d).",
    "password_changed": "You were signed out because your password was "
                        "changed.",
    "admin": "An administrator ended your session.",
    "session_limit": "You were signed out: your account is signed in on "
                     "too many devices.",
    "reuse_detected": "You were signed out: your session cookie was used "
                      "from two places at once.",
    "device_binding": "You were signed out: this device could not prove "
                      "it is the one that signed in.",
    "logout": "You had signed out.",
    "login": "You signed in again, so this older session ended.",
}


def signed_out_message(reason):
    """The sentence for a REVOKED reason, or None (no reason given)."""
    if reason is None:
        return None
    return SIGNED_OUT_BECAUSE.get(reason, "Your session was ended.")


def ago(timestamp, now=None):
    seconds = max(0, int((now or time.time()) - timestamp))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def create_app(client):
    """The app on a sessiond.Client (shared by waitress' threads)."""
    app = Flask(__name__)
    Sessiond(app, client)  # sessions, CSRF on every POST, 503 page
    app.jinja_env.filters["ago"] = ago
    app.jinja_env.filters["device"] = describe_device
    app.jinja_env.filters["utc"] = lambda t: time.strftime(
        "%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))

    def tell_why_signed_out():
        # Only in the request whose cookie came back REVOKED: the dead
        # cookie is deleted with this response, so it is said once.
        message = signed_out_message(revoked_reason())
        if message:
            flash(message, "error")
        return message

    @app.get("/")
    def index():
        if current_user_id():
            return redirect(url_for("devices"))
        tell_why_signed_out()
        return redirect(url_for("login_form"))

    @app.get("/login")
    def login_form():
        if current_user_id():
            return redirect(url_for("devices"))
        tell_why_signed_out()  # shown by this page's flashes
        return render_template("login.html")

    @app.post("/login")
    def login_submit():
        user = request.form.get("user", "")
        if not check_password(user, request.form.get("password", "")):
            flash("Wrong user name or password.", "error")
            return redirect(url_for("login_form"))
        login(user)  # authenticated first, then the session is regenerated
        flash(f"Signed in as {user}.")
        return redirect(url_for("devices"))

    @app.post("/logout")
    def logout_submit():
        logout()
        flash("Signed out.")
        return redirect(url_for("login_form"))

    @app.get("/devices")
    def devices():
        user = current_user_id()
        if not user:
            if not tell_why_signed_out():
                flash("Please sign in.")
            return redirect(url_for("login_form"))
        return render_template("devices.html", user=user,
                               devices=list_devices())

    @app.post("/devices/sign-out-others")
    def sign_out_others():
        if not current_user_id():
            return redirect(url_for("login_form"))
        ended = sign_out_other_locations()
        if ended == 1:
            flash("Signed out 1 other location.")
        else:
            flash(f"Signed out {ended} other locations.")
        return redirect(url_for("devices"))

    return app
