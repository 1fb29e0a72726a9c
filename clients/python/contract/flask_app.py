"""The contract app on Flask, through sessiond.flask: flask.session,
flask.flash()/get_flashed_messages() and the integration's helpers."""

from flask import Flask, flash, get_flashed_messages, jsonify, request, session

import sessiond
from sessiond import flask as sf

from contract_common import device, parse_value, pause


def make_app(endpoint):
    app = Flask("contract_flask")
    sf.Sessiond(app, sessiond.Client(endpoint))  # CSRF on every POST

    @app.get("/health")
    def health():
        return jsonify(ok=True)

    @app.get("/whoami")
    def whoami():
        return jsonify(user=sf.current_user_id() or "")

    @app.get("/get")
    def get():
        key = request.args["key"]
        present = key in session
        return jsonify(present=present,
                       value=session[key] if present else None)

    @app.post("/set")
    def set_():
        session[request.form["key"]] = parse_value(request.form["value"])
        pause(request.form.get("delay_ms"))
        return jsonify(ok=True)

    @app.post("/delete")
    def delete():
        session.pop(request.form["key"], None)
        return jsonify(ok=True)

    @app.post("/login")
    def login():
        user = request.form["user"]
        sf.login(user)  # (a real app checks the password first)
        return jsonify(user=user)

    @app.post("/logout")
    def logout():
        sf.logout()
        return jsonify(ok=True)

    @app.post("/flash")
    def flash_():
        flash(request.form["message"])
        return jsonify(ok=True)

    @app.get("/flashes")
    def flashes():
        return jsonify(messages=get_flashed_messages())

    @app.get("/csrf")
    def csrf():
        return jsonify(token=sf.csrf_token(), header="X-CSRF-Token")

    @app.post("/rotate_csrf")
    def rotate_csrf():
        return jsonify(token=sf.rotate_csrf_token())

    @app.get("/devices")
    def devices():
        return jsonify(devices=[device(d) for d in sf.list_devices()])

    @app.post("/signout_others")
    def signout_others():
        return jsonify(ended=sf.sign_out_other_locations())

    @app.post("/password_changed")
    def password_changed():
        sf.password_changed()
        return jsonify(ok=True)

    @app.post("/big")
    def big():
        session["big"] = "x" * int(request.form["bytes"])
        return jsonify(ok=True)

    return app
