"""The Flask session seen from Socket.IO handlers (security row F1), and Flask-Login's current_user.

- ``manage_session=True``: a connection works on its own copy taken at
  connect; its writes stay with it and never reach HTTP; HTTP writes made
  after connect are not seen; another connection starts from the HTTP session.
- ``manage_session=False`` with cookie sessions: the handshake's cookie is
  what handlers read; writes are lost (no response carries a cookie).
- ``manage_session=False`` with Flask-Session (filesystem store): shared both ways.
"""
from __future__ import annotations

from typing import Any

import flask_login
import pytest
from flask import Flask, session
from flask_session import Session

from flask_siothread import SocketIO, disconnect, emit


def make_app(manage_session: bool, server_side: Any = None) -> tuple:
    app = Flask(f"sessions-{manage_session}-{bool(server_side)}")
    app.config["SECRET_KEY"] = "secret"
    if server_side is not None:
        app.config.update(SESSION_TYPE="cachelib", SESSION_CACHELIB=server_side)
        Session(app)
    socketio = SocketIO(app, manage_session=manage_session)

    @app.route("/set/<value>")
    def set_value(value):
        session["value"] = value
        return ""

    @app.route("/get")
    def get_value():
        return session.get("value", "-")

    @socketio.on("get")
    def get():
        return session.get("value", "-")

    @socketio.on("set")
    def set_(value):
        session["value"] = value

    return app, socketio


@pytest.fixture
def file_store(tmp_path):
    from cachelib.file import FileSystemCache

    return FileSystemCache(str(tmp_path / "sessions"), threshold=500)


@pytest.mark.parametrize("server_side", [False, True], ids=["cookie", "flask-session"])
def test_managed_session_is_a_per_connection_copy(make_client, file_store, server_side):
    app, socketio = make_app(True, file_store if server_side else None)
    http = app.test_client()
    http.get("/set/from-http")
    client = make_client(socketio, app, flask_test_client=http)
    other = make_client(socketio, app, flask_test_client=http)
    assert client.emit("get", callback=True) == "from-http"
    client.emit("set", "from-socket")
    assert client.emit("get", callback=True) == "from-socket"
    # the change stays with that connection: not in HTTP, not in another connection
    assert http.get("/get").get_data(as_text=True) == "from-http"
    assert other.emit("get", callback=True) == "from-http"
    # an HTTP change after connect is not seen by the connection's copy
    http.get("/set/later")
    assert client.emit("get", callback=True) == "from-socket"
    assert other.emit("get", callback=True) == "from-http"
    # a new connection starts from the HTTP session as it is now
    assert make_client(socketio, app, flask_test_client=http).emit("get", callback=True) == "later"


def test_unmanaged_cookie_session_is_frozen_at_the_handshake(make_client):
    app, socketio = make_app(False)
    http = app.test_client()
    http.get("/set/from-http")
    client = make_client(socketio, app, flask_test_client=http)
    client.emit("set", "lost")
    assert client.emit("get", callback=True) == "from-http"  # nothing carried the new cookie
    assert http.get("/get").get_data(as_text=True) == "from-http"


def test_unmanaged_server_side_session_is_shared_both_ways(make_client, file_store):
    app, socketio = make_app(False, file_store)
    http = app.test_client()
    http.get("/set/from-http")
    client = make_client(socketio, app, flask_test_client=http)
    assert client.emit("get", callback=True) == "from-http"
    client.emit("set", "from-socket")
    assert http.get("/get").get_data(as_text=True) == "from-socket"
    http.get("/set/http-again")
    assert client.emit("get", callback=True) == "http-again"


def make_login_app(manage_session: bool) -> tuple:
    app = Flask(f"login-{manage_session}")
    app.config["SECRET_KEY"] = "secret"
    login = flask_login.LoginManager(app)
    socketio = SocketIO(app, manage_session=manage_session)

    class User(flask_login.UserMixin):
        def __init__(self, name):
            self.id = name

    @login.user_loader
    def load(user_id):
        return User(user_id)

    @app.route("/login/<name>")
    def do_login(name):
        flask_login.login_user(User(name))
        return ""

    def authenticated_only(fn):
        import functools

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            if not flask_login.current_user.is_authenticated:
                disconnect()
                return None
            return fn(*args, **kwargs)

        return wrapped

    @socketio.on("connect")
    def connect():
        emit("hello", flask_login.current_user.get_id() if flask_login.current_user.is_authenticated else "anonymous")

    @socketio.on("whoami")
    @authenticated_only
    def whoami():
        return flask_login.current_user.id

    @socketio.on("logout")
    def logout():
        flask_login.logout_user()

    return app, socketio


@pytest.mark.parametrize("manage_session", [True, False], ids=["managed", "unmanaged"])
def test_flask_login_current_user_in_handlers(make_client, manage_session):
    app, socketio = make_login_app(manage_session)
    http = app.test_client()
    anonymous = make_client(socketio, app)
    assert anonymous.get_received() == [{"name": "hello", "args": ["anonymous"], "namespace": "/"}]
    anonymous.emit("whoami")
    assert not anonymous.is_connected()  # authenticated_only disconnected it
    http.get("/login/alice")
    client = make_client(socketio, app, flask_test_client=http)
    assert client.get_received() == [{"name": "hello", "args": ["alice"], "namespace": "/"}]
    assert client.emit("whoami", callback=True) == "alice"


def test_logout_in_a_managed_handler_stays_with_the_connection(make_client):
    app, socketio = make_login_app(True)
    http = app.test_client()
    http.get("/login/bob")
    client = make_client(socketio, app, flask_test_client=http)
    client.emit("logout")
    client.emit("whoami")
    assert not client.is_connected()
    # the HTTP session still has bob: another connection is authenticated
    assert make_client(socketio, app, flask_test_client=http).emit("whoami", callback=True) == "bob"
