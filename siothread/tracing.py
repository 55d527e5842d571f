"""OpenTelemetry spans for handled events (``pip install siothread[otel]``).

::

    from siothread.tracing import Tracing

    Tracing(sio)                  # the global tracer provider and propagator
    Tracing(sio, tracer_provider=provider, propagator=TraceContextTextMapPropagator())

Each handler call (events, ``connect`` and ``disconnect``) runs inside a span
named ``"<event> receive"`` (``_other`` stands for names with no handler of
their own, caught by a ``'*'`` handler: span names stay bounded), of kind
CONSUMER, with the attributes ``messaging.system = "socket.io"``,
``messaging.destination.name`` (the namespace), ``messaging.operation.name``
(the event) and ``socketio.sid``. A handler that raises marks its span as an
error and records the exception.

The parent of the spans is the context the client sent in the headers of its
handshake request (``traceparent`` / ``tracestate`` with the default W3C
propagator): a browser page or a service that opened the connection inside a
trace sees every event of that connection under it. The context is read once
per connection, when its first handler runs.

Only ``opentelemetry-api`` is needed here; without an SDK configured the spans
are the API's no-op spans.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict

try:
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # pragma: no cover - depends on the install
    raise ImportError("siothread.tracing needs opentelemetry-api: pip install siothread[otel]") from None

from . import __version__
from .observer import EventLabels, Observer, attach, detach

if TYPE_CHECKING:  # pragma: no cover
    from .server.middleware import HandlerInfo
    from .server.server import Server

__all__ = ["Tracing", "carrier_of"]


def carrier_of(environ: Dict[str, Any]) -> Dict[str, str]:
    """The request's HTTP headers as a propagation carrier (lower-case names)."""
    return {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
            if key.startswith("HTTP_") and isinstance(value, str)}


class Tracing(Observer):
    """Wrap every handler of ``sio`` in a span (attached at once; :meth:`close` stops it)."""

    def __init__(self, sio: "Server", *, tracer_provider: Any = None, propagator: Any = None) -> None:
        self.sio = sio
        self.tracer = trace.get_tracer("siothread", __version__, tracer_provider=tracer_provider)
        self.propagator = propagator
        self._contexts: Dict[str, Any] = {}  # Engine.IO sid -> the handshake's context, while it lives
        self._event_name = EventLabels(sio)
        attach(sio, self)
        sio.around(self._span)

    def close(self) -> None:
        sio = self.sio
        detach(sio, self)
        if self._span in sio._around:
            sio._around.remove(self._span)
            sio._hooked = bool(sio._around or sio._after)
        self._contexts.clear()

    def _context(self, sid: str) -> Any:
        sock = self.sio._sockets.get(sid)
        if sock is None:
            return None
        eio_sid = sock.eio_sid
        ctx = self._contexts.get(eio_sid)
        if ctx is None:
            carrier = carrier_of(sock.client.environ)
            ctx = (self.propagator.extract(carrier) if self.propagator is not None
                   else propagate.extract(carrier))
            if eio_sid in self.sio._clients:  # raw_disconnection forgets it
                self._contexts[eio_sid] = ctx
        return ctx

    def _span(self, call: Callable[[], Any], info: "HandlerInfo") -> Any:
        event = self._event_name(info.event)
        attributes = {
            "messaging.system": "socket.io",
            "messaging.destination.name": info.namespace,
            "messaging.operation.name": event,
            "socketio.sid": info.sid,
        }
        with self.tracer.start_as_current_span(f"{event} receive", context=self._context(info.sid),
                                               kind=SpanKind.CONSUMER, attributes=attributes,
                                               record_exception=False, set_status_on_exception=False) as span:
            try:
                return call()
            except BaseException as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                raise

    # -- observer: forget a connection's context when it ends -----------------
    def raw_disconnection(self, eio_sid: str, reason: str) -> None:
        self._contexts.pop(eio_sid, None)
