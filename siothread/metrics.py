"""Prometheus metrics for a siothread server (``pip install siothread[metrics]``).

::

    import siothread
    from siothread.metrics import Metrics

    sio = siothread.Server()
    metrics = Metrics(sio)                             # starts counting
    app = metrics.mount(siothread.WSGIApp(sio))        # GET /metrics: the text exposition format

What is exported (prefix ``siothread_`` by default):

=======================================  ===============================  ===================================
metric                                   labels                           what
=======================================  ===============================  ===================================
``connected_sockets`` (gauge)            namespace, transport             sockets connected now
``engine_sessions`` (gauge)              transport                        Engine.IO sessions now
``handshakes_total``                     transport                        Engine.IO sessions opened
``handshake_refusals_total``             reason                           sessions refused before they opened
``connect_refusals_total``               namespace, reason                namespace CONNECTs refused
``disconnects_total``                    reason                           Engine.IO sessions closed
``events_received_total``                namespace                        events that reached a socket
``events_sent_total``                    namespace                        events sent, one per recipient
``received_bytes_total``                 namespace                        Socket.IO packets in (bytes)
``sent_bytes_total``                     namespace                        Socket.IO packets out (bytes)
``handler_duration_seconds`` (hist.)     event                            time in the handler
``handler_errors_total``                 event                            handlers that raised
``ack_rtt_seconds`` (histogram)          namespace                        emit with ack -> the client's ACK
``queue_overflows_total``                policy                           outbound queues that overflowed
``slow_consumer_disconnects_total``      -                                sessions closed for not reading
``upgrades_total``                       outcome                          websocket / timeout / failed / refused
``adapter_up`` (gauge)                   adapter                          1 when the adapter answers
``adapter_servers`` (gauge)              adapter                          servers the adapter sees
=======================================  ===============================  ===================================

Label values are bounded, whatever the clients send: an ``event`` label is a
name some handler is registered for (``connect`` and ``disconnect`` included),
every other name counts under ``_other``; a ``namespace`` label is a namespace
with handlers, or one a socket connected to (the first ``max_namespaces``),
else ``_other``.

Cost: nothing at all until a :class:`Metrics` is attached (the server then
has no observer, and tests ``if self._observers`` only). Attached, counting
is plain integer arithmetic in the reporting greenlet; ``prometheus_client``
objects are built only when ``/metrics`` is scraped. ``docs/benchmarks.md``
has the numbers.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from time import monotonic, perf_counter
from typing import TYPE_CHECKING, Any, Callable, DefaultDict, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

try:
    from prometheus_client import CollectorRegistry, make_wsgi_app
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
except ImportError:  # pragma: no cover - depends on the install
    raise ImportError("siothread.metrics needs prometheus_client: pip install siothread[metrics]") from None

from .observer import OTHER, EventLabels, Observer, attach, detach

if TYPE_CHECKING:  # pragma: no cover
    from .server.socket import Socket
    from .server.middleware import HandlerInfo
    from .server.server import Server

__all__ = ["Metrics", "HANDLER_BUCKETS", "ACK_BUCKETS"]

#: seconds; handlers are usually quick, with a tail of blocking calls
HANDLER_BUCKETS: Tuple[float, ...] = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                      1.0, 2.5, 5.0, 10.0)
#: seconds; a round trip over the network plus the client's handler
ACK_BUCKETS: Tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                                  30.0)


class _Histogram:
    """Bucket counts and sums per label tuple; exported cumulative like Prometheus wants."""

    __slots__ = ("bounds", "series")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(sorted(bounds))
        self.series: Dict[Tuple[str, ...], List[float]] = {}  # labels -> [count per bucket..., +Inf, sum]

    def observe(self, labels: Tuple[str, ...], value: float) -> None:
        row = self.series.get(labels)
        if row is None:
            row = self.series[labels] = [0.0] * (len(self.bounds) + 2)
        row[bisect_left(self.bounds, value)] += 1
        row[-1] += value

    def family(self, name: str, doc: str, label_names: List[str]) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, doc, labels=label_names)
        for labels, row in sorted(self.series.items()):
            running = 0.0
            buckets = []
            for bound, count in zip([*map(repr, self.bounds), "+Inf"], row[:-1]):
                running += count
                buckets.append((bound, running))
            family.add_metric(list(labels), buckets, row[-1])
        return family


class Metrics(Observer):
    """Count what ``sio`` does and export it to Prometheus.

    Args:
        sio: the :class:`siothread.Server` to watch (attached at once).
        registry: where the collector is registered; a new ``CollectorRegistry``
            by default (pass ``prometheus_client.REGISTRY`` to share the process one).
        prefix: metric name prefix.
        handler_buckets / ack_buckets: histogram bounds in seconds.
        max_namespaces: distinct namespace labels besides those with handlers.
    """

    def __init__(self, sio: "Server", *, registry: Optional[CollectorRegistry] = None, prefix: str = "siothread",
                 handler_buckets: Sequence[float] = HANDLER_BUCKETS, ack_buckets: Sequence[float] = ACK_BUCKETS,
                 max_namespaces: int = 64) -> None:
        self.sio = sio
        self.prefix = prefix
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.max_namespaces = max_namespaces
        self._namespaces: Dict[str, str] = {}  # namespace -> its label (itself), learned as sockets connect
        self._event = EventLabels(sio)

        counter = Callable[[], DefaultDict[Tuple[str, ...], float]]
        new: counter = lambda: defaultdict(float)  # noqa: E731
        self.handshakes = new()
        self.handshake_refusals = new()
        self.connect_refusals = new()
        self.disconnects = new()
        self.events_received = new()
        self.events_sent = new()
        self.bytes_received = new()
        self.bytes_sent = new()
        self.handler_errors = new()
        self.overflows = new()
        self.upgrades = new()
        self.slow_consumers = 0
        self.handler_seconds = _Histogram(handler_buckets)
        self.ack_seconds = _Histogram(ack_buckets)

        attach(sio, self)
        sio.on_outgoing(self._outgoing)
        sio.around(self._time_handler)
        self.registry.register(self)

    # -- serving --------------------------------------------------------------
    def wsgi_app(self) -> Callable[..., Iterable[bytes]]:
        """A WSGI application that answers with this registry in the text exposition format."""
        return make_wsgi_app(self.registry)

    def mount(self, app: Callable[..., Any], path: str = "/metrics") -> "MetricsMount":
        """``app`` with ``path`` answered by :meth:`wsgi_app` (keeps ``app.shutdown`` for ``serve``)."""
        return MetricsMount(app, self.wsgi_app(), path)

    def close(self) -> None:
        """Stop counting and unregister from the registry."""
        sio = self.sio
        detach(sio, self)
        if self._outgoing in sio._outgoing:
            sio._outgoing.remove(self._outgoing)
        if self._time_handler in sio._around:
            sio._around.remove(self._time_handler)
            sio._hooked = bool(sio._around or sio._after)
        try:
            self.registry.unregister(self)
        except KeyError:
            pass

    # -- label bounds ---------------------------------------------------------
    def _ns(self, namespace: str) -> str:
        label = self._namespaces.get(namespace)
        if label is not None:
            return label
        if namespace == "/" or namespace in self.sio._registry.static:
            self._namespaces[namespace] = namespace
            return namespace
        return OTHER

    def _learn_ns(self, namespace: str) -> None:
        if namespace not in self._namespaces and len(self._namespaces) < self.max_namespaces:
            self._namespaces[namespace] = namespace

    # -- Engine.IO observations -----------------------------------------------
    def handshake_refused(self, reason: str, environ: Dict[str, Any]) -> None:
        self.handshake_refusals[(reason,)] += 1

    def upgrade(self, eio_sid: str, outcome: str) -> None:
        self.upgrades[(outcome,)] += 1

    def overflow(self, eio_sid: str, policy: str) -> None:
        self.overflows[(policy,)] += 1

    # -- Socket.IO observations -----------------------------------------------
    def raw_connection(self, eio_sid: str) -> None:
        try:
            transport = self.sio.eio.transport(eio_sid)
        except KeyError:
            transport = "unknown"
        self.handshakes[(transport,)] += 1

    def raw_disconnection(self, eio_sid: str, reason: str) -> None:
        self.disconnects[(reason,)] += 1
        if reason == "slow consumer":
            self.slow_consumers += 1

    def packet_in(self, nbytes: int, namespace: str) -> None:
        self.bytes_received[(self._ns(namespace),)] += nbytes

    def packet_out(self, nbytes: int, namespace: str) -> None:
        self.bytes_sent[(self._ns(namespace),)] += nbytes

    def socket_connected(self, sock: "Socket") -> None:
        self._learn_ns(sock.namespace)

    def connect_refused(self, namespace: str, payload: Dict[str, Any]) -> None:
        message = payload.get("message") if isinstance(payload, dict) else None
        reason = {"Invalid namespace": "invalid_namespace", "Auth payload too large": "auth_too_large",
                  "server shutting down": "shutting_down"}.get(message, "refused")  # type: ignore[arg-type]
        self.connect_refusals[(self._ns(namespace), reason)] += 1

    def event_received(self, sock: "Socket", event: str, args: List[Any]) -> None:
        self.events_received[(self._ns(sock.namespace),)] += 1

    def ack_received(self, sock: "Socket", sent: float) -> None:
        self.ack_seconds.observe((self._ns(sock.namespace),), monotonic() - sent)

    def _outgoing(self, sid: str, namespace: str, event: str, args: List[Any]) -> None:
        self.events_sent[(self._ns(namespace),)] += 1

    def _time_handler(self, call: Callable[[], Any], info: "HandlerInfo") -> Any:
        started = perf_counter()
        try:
            return call()
        except BaseException:
            self.handler_errors[(self._event(info.event),)] += 1
            raise
        finally:
            self.handler_seconds.observe((self._event(info.event),), perf_counter() - started)

    # -- the prometheus_client Collector interface ----------------------------
    def collect(self) -> Iterator[Any]:
        p = self.prefix
        sio = self.sio

        def counter(name: str, doc: str, labels: List[str], values: Dict[Tuple[str, ...], float]) -> Any:
            family = CounterMetricFamily(f"{p}_{name}", doc, labels=labels)
            for key, value in sorted(values.items()):
                family.add_metric(list(key), value)
            return family

        sockets: DefaultDict[Tuple[str, str], int] = defaultdict(int)
        sessions: DefaultDict[str, int] = defaultdict(int)
        transports: Dict[str, str] = {}
        for eio_sid in list(sio._clients):
            try:
                transports[eio_sid] = sio.eio.transport(eio_sid)
            except KeyError:
                continue
            sessions[transports[eio_sid]] += 1
        for sock in list(sio._sockets.values()):
            if sock.connected_at > 0 and sock.eio_sid in transports:
                sockets[(self._ns(sock.namespace), transports[sock.eio_sid])] += 1
        family = GaugeMetricFamily(f"{p}_connected_sockets", "Sockets connected now",
                                   labels=["namespace", "transport"])
        for key, count in sorted(sockets.items()):
            family.add_metric(list(key), count)
        yield family
        family = GaugeMetricFamily(f"{p}_engine_sessions", "Engine.IO sessions now", labels=["transport"])
        for transport, count in sorted(sessions.items()):
            family.add_metric([transport], count)
        yield family

        yield counter("handshakes", "Engine.IO sessions opened", ["transport"], self.handshakes)
        yield counter("handshake_refusals", "Engine.IO sessions refused before they opened", ["reason"],
                      self.handshake_refusals)
        yield counter("connect_refusals", "Namespace CONNECTs answered with CONNECT_ERROR",
                      ["namespace", "reason"], self.connect_refusals)
        yield counter("disconnects", "Engine.IO sessions closed", ["reason"], self.disconnects)
        yield counter("events_received", "Events that reached a connected socket", ["namespace"],
                      self.events_received)
        yield counter("events_sent", "Events sent to sockets, one per recipient", ["namespace"], self.events_sent)
        yield counter("received_bytes", "Bytes of Socket.IO packets received", ["namespace"], self.bytes_received)
        yield counter("sent_bytes", "Bytes of Socket.IO packets sent", ["namespace"], self.bytes_sent)
        yield counter("handler_errors", "Handlers that raised", ["event"], self.handler_errors)
        yield counter("queue_overflows", "Outbound queues that overflowed", ["policy"], self.overflows)
        yield counter("slow_consumer_disconnects", "Sessions closed because the client did not read", [],
                      {(): self.slow_consumers})
        yield counter("upgrades", "Transport upgrades by outcome", ["outcome"], self.upgrades)
        yield self.handler_seconds.family(f"{p}_handler_duration_seconds", "Time spent in event handlers",
                                          ["event"])
        yield self.ack_seconds.family(f"{p}_ack_rtt_seconds", "Emit with ack to the client's acknowledgement",
                                      ["namespace"])
        yield from self._adapter_families()

    def _adapter_families(self) -> Iterator[Any]:
        manager = self.sio.manager
        name = type(manager).__name__
        try:
            servers = manager.server_count()
            healthy = getattr(manager, "healthy", None)
            up = bool(healthy() if callable(healthy) else True)
        except Exception:
            servers, up = 0, False
        family = GaugeMetricFamily(f"{self.prefix}_adapter_up", "1 when the adapter answers", labels=["adapter"])
        family.add_metric([name], 1 if up else 0)
        yield family
        family = GaugeMetricFamily(f"{self.prefix}_adapter_servers", "Servers the adapter sees", labels=["adapter"])
        family.add_metric([name], servers)
        yield family


class MetricsMount:
    """A WSGI app that answers ``path`` with the metrics and hands everything else to ``app``."""

    def __init__(self, app: Callable[..., Any], metrics_app: Callable[..., Any], path: str = "/metrics") -> None:
        self.app = app
        self.metrics_app = metrics_app
        self.path = "/" + path.strip("/")

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == self.path:
            return self.metrics_app(environ, start_response)
        return self.app(environ, start_response)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Graceful shutdown of the wrapped app (what :func:`siothread.serve` calls)."""
        target = getattr(self.app, "shutdown", None)
        if callable(target):
            target(timeout)
