"""The ``SocketIO`` Flask extension: Flask-SocketIO's API on a :class:`siothread.Server`.

Handlers are registered with the server through small adapters (one per
handler) that find the Flask app of the connection (put into the handshake
environ by the middleware), push the event's Flask context
(:mod:`._context`), call the handler with Flask-SocketIO's arguments (no
``sid``: it is ``request.sid``) and route its exceptions to the ``on_error``
handlers. Registration is remembered, so ``init_app`` may come later (app
factories) and may run for several apps; the latest app's server is the one
``socketio.emit`` talks to, as in Flask-SocketIO.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import flask

from siothread.errors import ConnectionRefusedError
from siothread.server import Server, reason
from siothread.server._registry import accepts_positional  # same distribution: one signature rule
from siothread.wsgi import WSGIApp

from . import _running
from ._context import event_context, in_socket_context
from ._queue import manager_for
from .namespace import Namespace

__all__ = ["SocketIO"]

Handler = Callable[..., Any]


def data_of(args: Tuple[Any, ...]) -> Any:
    """Flask-SocketIO's ``*args`` of an emit as siothread's ``data``: none, one, or several (a tuple)."""
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


class _SocketIOMiddleware(WSGIApp):
    """``/socket.io/`` to the server, the rest to the Flask app; names the app in the environ."""

    def __init__(self, server: Any, flask_app: flask.Flask, socketio_path: str) -> None:
        self.flask_app = flask_app
        super().__init__(server, flask_app.wsgi_app, socketio_path=socketio_path)

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ["flask.app"] = self.flask_app
        return super().__call__(environ, start_response)


class SocketIO:
    """Socket.IO for a Flask app: ``SocketIO(app, **options)`` or ``SocketIO(**options)`` + ``init_app(app)``.

    Args:
        app: the Flask app (or None, then call :meth:`init_app`). Without an
            app but with ``message_queue``, this is a write-only emitter for
            Celery workers and scripts (``socketio.emit`` publishes to the queue).
        manage_session: True (default): each connection works on its own copy
            of the Flask session, taken at connect. False: handlers use the
            app's session interface directly (shared with HTTP views for
            server-side sessions). See ``docs/flask.md``.
        message_queue: a ``redis://`` URL: the cluster adapter
            ``siothread.RedisManager`` (``client_manager``).
        channel: the Redis channel (the adapter's default when None).
        path: where Socket.IO is served (``'socket.io'``); ``resource`` is an alias.
        **server_options: every :class:`siothread.Server` option
            (``cors_allowed_origins``, ``ping_interval``, ``recovery``, ...);
            unknown names raise ``TypeError`` when the server is built.
    """

    reason = reason

    def __init__(self, app: Optional[flask.Flask] = None, **kwargs: Any) -> None:
        self.server: Any = None
        self.server_options: Dict[str, Any] = {}
        self.handlers: List[Tuple[str, Handler, Any]] = []  # (event, server-level adapter, namespace)
        self.namespace_handlers: List[Namespace] = []
        self.exception_handlers: Dict[str, Callable[[BaseException], Any]] = {}
        self.default_exception_handler: Optional[Callable[[BaseException], Any]] = None
        self.manage_session = True
        self.sockio_mw: Optional[_SocketIOMiddleware] = None
        self.wsgi_server: Any = None
        self._path = "socket.io"
        self._runner = _running.Runner(self)
        if app is not None or "message_queue" in kwargs:
            self.init_app(app, **kwargs)
        else:
            self.server_options.update(kwargs)

    # ------------------------------------------------------------ set-up
    def init_app(self, app: Optional[flask.Flask], **kwargs: Any) -> None:
        """Build the server for ``app`` with the options given so far plus ``kwargs``."""
        if app is not None:
            app.extensions["socketio"] = self
        self.server_options.update(kwargs)
        options = dict(self.server_options)
        self.manage_session = bool(options.pop("manage_session", self.manage_session))
        url = options.pop("message_queue", None)
        channel = options.pop("channel", None)
        path = options.pop("path", None) or options.pop("resource", None) or "socket.io"
        self._path = path.strip("/")
        _drop_flask_socketio_only_options(options)
        if url and "client_manager" not in options:
            options["client_manager"] = manager_for(url, channel, write_only=app is None)
        if options.get("json") is flask.json and app is not None:
            options["json"] = _app_json(app)
        self.server = Server(**options)
        for event, adapter, namespace in self.handlers:
            self.server.on(event, adapter, namespace=namespace)
        for namespace_handler in self.namespace_handlers:
            self._register_namespace(namespace_handler)
        if app is not None:
            self.sockio_mw = _SocketIOMiddleware(self.server, app, self._path)
            app.wsgi_app = self.sockio_mw  # type: ignore[method-assign]
            _running.register_cli(app, self)

    # ------------------------------------------------------- registration
    def on(self, message: str, namespace: Any = None) -> Callable[[Handler], Handler]:
        """``@socketio.on('event', namespace='/chat')``; ``'connect'``, ``'disconnect'``, ``'*'`` too.

        Handlers get the event's arguments (``connect(auth)`` or ``connect()``,
        ``disconnect(reason)`` or ``disconnect()``, ``'*'`` handlers the event
        name first); ``request.sid`` says who sent it; the return value is the ack.
        """
        ns = namespace or "/"

        def decorator(handler: Handler) -> Handler:
            adapter = self._adapter(message, handler, ns)
            self.handlers.append((message, adapter, ns))
            if self.server is not None:
                self.server.on(message, adapter, namespace=ns)
            return handler

        return decorator

    def on_event(self, message: str, handler: Handler, namespace: Any = None) -> None:
        """The non-decorator form of :meth:`on`."""
        self.on(message, namespace=namespace)(handler)

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """``@socketio.event`` / ``@socketio.event(namespace='/x')``: the function's name is the event."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def set_handler(handler: Handler) -> Handler:
            return self.on(handler.__name__, *args, **kwargs)(handler)

        return set_handler

    def on_namespace(self, namespace_handler: Namespace) -> None:
        """Register a class-based :class:`~flask_siothread.Namespace`."""
        if not isinstance(namespace_handler, Namespace):
            raise ValueError("not a flask_siothread.Namespace instance")
        namespace_handler._set_socketio(self)
        self.namespace_handlers.append(namespace_handler)
        if self.server is not None:
            self._register_namespace(namespace_handler)

    def on_error(self, namespace: Optional[str] = None) -> Callable[[Handler], Handler]:
        """``@socketio.on_error('/chat')``: ``fn(exception)`` for errors raised by that namespace's handlers.

        Its return value becomes the ack of the failed event.
        """
        ns = namespace or "/"

        def decorator(exception_handler: Handler) -> Handler:
            if not callable(exception_handler):
                raise ValueError("exception_handler must be callable")
            self.exception_handlers[ns] = exception_handler
            return exception_handler

        return decorator

    def on_error_default(self, exception_handler: Handler) -> Handler:
        """``@socketio.on_error_default``: for namespaces without their own error handler."""
        if not callable(exception_handler):
            raise ValueError("exception_handler must be callable")
        self.default_exception_handler = exception_handler
        return exception_handler

    def _register_namespace(self, ns: Namespace) -> None:
        for event, adapter in ns._adapters().items():
            self.server.on(event, adapter, namespace=ns.namespace)

    def _adapter(self, message: str, handler: Handler, namespace: Any) -> Handler:
        """The function the server calls for ``handler`` (siothread's calling convention in, Flask's out)."""
        multi = not isinstance(namespace, str) or namespace == "*"
        dispatch = self._dispatch
        if message == "connect":
            takes_auth = accepts_positional(handler, 1)

            def on_connect(*a: Any) -> Any:
                ns, sid, _environ, auth = a if multi else (namespace, *a)
                return dispatch(handler, "connect", ns, sid, (auth,), (auth,) if takes_auth else ())

            return on_connect
        if message == "disconnect":
            takes_reason = accepts_positional(handler, 1)

            def on_disconnect(*a: Any) -> Any:
                ns, sid, why = a if multi else (namespace, *a)
                return dispatch(handler, "disconnect", ns, sid, (why,), (why,) if takes_reason else ())

            return on_disconnect
        if message == "*":
            def on_any(event: str, *a: Any) -> Any:
                ns, sid, args = (a[0], a[1], a[2:]) if multi else (namespace, a[0], a[1:])
                return dispatch(handler, event, ns, sid, args, (event, *args))

            return on_any

        def on_message(*a: Any) -> Any:
            ns, sid, args = (a[0], a[1], a[2:]) if multi else (namespace, a[0], a[1:])
            return dispatch(handler, message, ns, sid, args, args)

        return on_message

    # ------------------------------------------------------------ dispatch
    def _dispatch(self, handler: Handler, event: Optional[str], namespace: str, sid: str, args: Tuple[Any, ...],
                  call_args: Tuple[Any, ...]) -> Any:
        """Run ``handler(*call_args)`` in the Flask context of ``sid``'s connection."""
        environ = self.server.get_environ(sid, namespace=namespace)
        if environ is None:
            return None  # the client is gone: nothing to run the handler for
        app = environ.get("flask.app")
        if app is None:
            raise RuntimeError("this connection did not come through the Flask app's middleware "
                               "(serve app, not socketio.server, under a WSGI server)")
        with event_context(app, environ, self.manage_session, sid, namespace, event, args):
            try:
                return handler(*call_args)
            except ConnectionRefusedError:
                raise
            except Exception as exc:
                error_handler = self.exception_handlers.get(namespace, self.default_exception_handler)
                if error_handler is None:
                    raise
                return error_handler(exc)

    # ------------------------------------------------------------ emitting
    def emit(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Emit from anywhere (handlers, views, background tasks, other greenlets).

        Keyword arguments: ``namespace`` (``'/'``), ``to``/``room`` (a sid, a
        room or a list; everyone when absent), ``include_self`` (False: not to
        the sender of the current event), ``skip_sid``, ``callback``, and
        siothread's ``ignore_queue``, ``volatile``, ``compress``, ``timeout``.
        Several positional arguments are sent as several event arguments.
        """
        namespace = kwargs.pop("namespace", None) or "/"
        to = kwargs.pop("to", None)
        room = kwargs.pop("room", None)
        kwargs.pop("broadcast", None)  # everyone unless to/room: broadcasting is the default here
        include_self = kwargs.pop("include_self", True)
        skip_sid = kwargs.pop("skip_sid", None)
        if not include_self and not skip_sid:
            skip_sid = _current_sid("include_self=False")
        callback = kwargs.pop("callback", None)
        if callback is not None:
            callback = self._callback_in_context(callback)
        self._require_server().emit(event, data_of(args), to=to if to is not None else room, skip_sid=skip_sid,
                                    namespace=namespace, callback=callback, **kwargs)

    def send(self, data: Any, json: bool = False, namespace: Optional[str] = None, to: Any = None,
             callback: Optional[Callable[..., Any]] = None, include_self: bool = True, skip_sid: Any = None,
             **kwargs: Any) -> None:
        """Emit ``'message'`` (or ``'json'`` with ``json=True``), like :meth:`emit`."""
        self.emit("json" if json else "message", data, namespace=namespace, to=to, callback=callback,
                  include_self=include_self, skip_sid=skip_sid, **kwargs)

    def call(self, event: str, *args: Any, **kwargs: Any) -> Any:
        """Emit to one client (``to=sid``) and wait for its ack (``timeout=60``).

        Raises ``siothread.TimeoutError``, or ``siothread.DisconnectedError`` as
        soon as the client leaves. ``to`` a room returns a
        ``siothread.BroadcastAckResult``.
        """
        namespace = kwargs.pop("namespace", None) or "/"
        to = kwargs.pop("to", None)
        room = kwargs.pop("room", None)
        return self._require_server().call(event, data_of(args), to=to if to is not None else room,
                                           namespace=namespace, **kwargs)

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Remove everyone from ``room`` (namespace ``'/'`` unless given)."""
        self._require_server().close_room(room, namespace or "/")

    def _callback_in_context(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Run an ack callback in the Flask context of the event that emitted (Flask-SocketIO's rule)."""
        if not in_socket_context():
            if not flask.has_app_context():
                return callback
            current = flask.current_app._get_current_object()  # type: ignore[attr-defined]

            def in_app(*args: Any) -> Any:
                with current.app_context():
                    return callback(*args)

            return in_app
        sid = flask.request.sid  # type: ignore[attr-defined]
        namespace = flask.request.namespace  # type: ignore[attr-defined]
        app = flask.current_app._get_current_object()  # type: ignore[attr-defined]

        def in_event(*args: Any) -> Any:
            if self.server.get_environ(sid, namespace=namespace) is not None:
                return self._dispatch(callback, None, namespace, sid, args, args)
            with app.app_context():  # the client left meanwhile: its request context is gone
                return callback(*args)

        return in_event

    # ------------------------------------------------------------ runtime
    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``target`` in a greenlet the server owns (``join()`` waits for it)."""
        return self._require_server().start_background_task(target, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        """Sleep without blocking other greenlets."""
        self._require_server().sleep(seconds)

    def run(self, app: flask.Flask, host: Optional[str] = None, port: Optional[int] = None, **kwargs: Any) -> None:
        """Serve ``app`` on siothread's gevent server until SIGINT/SIGTERM or :meth:`stop`.

        ``debug``, ``use_reloader``, ``reloader_options``/``extra_files``,
        ``log_output``, ``certfile``/``keyfile`` (TLS) and siothread's serving
        options (``header_timeout``, ``idle_timeout``, ``shutdown_timeout``).
        Never the Werkzeug development server.
        """
        self._runner.run(app, host, port, **kwargs)

    def stop(self) -> None:
        """Stop a server started by :meth:`run`: clients are told, handlers finish, then it returns."""
        self._runner.stop()

    def test_client(self, app: flask.Flask, namespace: Optional[str] = None, query_string: Optional[str] = None,
                    headers: Optional[Dict[str, str]] = None, auth: Optional[Dict[str, Any]] = None,
                    flask_test_client: Any = None) -> Any:
        """A :class:`~flask_siothread.SocketIOTestClient` connected to ``namespace``."""
        from .testing import SocketIOTestClient

        return SocketIOTestClient(app, self, namespace=namespace, query_string=query_string, headers=headers,
                                  auth=auth, flask_test_client=flask_test_client)

    @property
    def path(self) -> str:
        """The Socket.IO mount point, without slashes."""
        return self._path

    def _require_server(self) -> Any:
        if self.server is None:
            raise RuntimeError("SocketIO has no server yet: call socketio.init_app(app) first")
        return self.server


#: Flask-SocketIO options with nothing to choose here: gevent is the only async mode, and the
#: heartbeat always closes dead clients (python-engineio's ``monitor_clients``)
_ASYNC_MODES = (None, "gevent", "gevent_uwsgi")


def _drop_flask_socketio_only_options(options: Dict[str, Any]) -> None:
    mode = options.pop("async_mode", None)
    if mode not in _ASYNC_MODES:
        raise ValueError(f"async_mode={mode!r}: siothread runs on gevent only (leave async_mode out)")
    options.pop("monitor_clients", None)


def _current_sid(what: str) -> str:
    if not in_socket_context():
        raise RuntimeError(f"{what} needs the sender: use it inside a Socket.IO handler, or pass skip_sid")
    return flask.request.sid  # type: ignore[attr-defined,no-any-return]


def _app_json(app: flask.Flask) -> Any:
    """``json=flask.json`` made independent of whichever context is active (Flask-SocketIO does the same)."""

    class FlaskSafeJSON:
        @staticmethod
        def dumps(*args: Any, **kwargs: Any) -> str:
            with app.app_context():
                return flask.json.dumps(*args, **kwargs)

        @staticmethod
        def loads(*args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return flask.json.loads(*args, **kwargs)

    return FlaskSafeJSON
