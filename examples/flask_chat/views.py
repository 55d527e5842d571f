"""HTTP side of the chat: login by nickname (Flask session), the chat page, the client bundle."""
from __future__ import annotations

from typing import Any

from flask import (Blueprint, current_app, redirect, render_template, request, send_from_directory, session,
                   url_for)

chat = Blueprint("chat", __name__, template_folder="templates")

MAX_NICKNAME = 24


def clean_nickname(value: Any) -> str:
    """A nickname from client input: a bounded, printable, single-line string (or "")."""
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value.strip() if ch.isprintable())[:MAX_NICKNAME]


@chat.route("/")
def index() -> Any:
    nickname = session.get("nickname")
    if not nickname:
        return render_template("login.html")
    return render_template("chat.html", nickname=nickname)


@chat.route("/login", methods=["POST"])
def login() -> Any:
    nickname = clean_nickname(request.form.get("nickname"))
    if not nickname:
        return render_template("login.html", error="Pick a nickname."), 400
    session["nickname"] = nickname
    return redirect(url_for("chat.index"))


@chat.route("/logout", methods=["POST"])
def logout() -> Any:
    session.clear()
    return redirect(url_for("chat.index"))


@chat.route("/socket.io.min.js")
def client_bundle() -> Any:
    """The official socket.io-client browser bundle, from examples/node_modules (``npm ci``)."""
    return send_from_directory(current_app.config["BUNDLE_DIR"], "socket.io.min.js",
                               mimetype="application/javascript")
