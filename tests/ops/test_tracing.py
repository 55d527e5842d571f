"""siothread.tracing: one span per handled event, parented by the handshake's traceparent.

The client is python-socketio's (a real, independent implementation) sending a W3C
``traceparent`` header with its handshake; the spans go to the SDK's in-memory exporter.
"""
from __future__ import annotations

from typing import Any, Iterator, Tuple

import gevent
import pytest
import socketio as python_socketio
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import siothread
from siothread.tracing import Tracing
from tests.ops.ops_helpers import running

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def traced() -> Iterator[Tuple[str, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sio = siothread.Server()
    tracing = Tracing(sio, tracer_provider=provider, propagator=TraceContextTextMapPropagator())
    sio.on("echo", lambda sid, data: data)

    @sio.on("boom")
    def boom(sid: str) -> None:
        raise ValueError("broken handler")

    @sio.on("*")
    def anything(event: str, sid: str, *args: Any) -> None:
        return None

    try:
        with running(sio, siothread.WSGIApp(sio)) as url:
            yield url, exporter
    finally:
        tracing.close()
        provider.shutdown()


def test_spans_continue_the_handshake_trace(traced) -> None:
    url, exporter = traced
    client = python_socketio.Client()
    client.connect(url, transports=["websocket"], headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    try:
        assert client.call("echo", "hi", timeout=5) == "hi"
        client.emit("boom")
        client.emit("whatever-name-1")
        client.call("echo", "again", timeout=5)
    finally:
        client.disconnect()
    deadline = gevent.get_hub().loop.now() + 5
    while len(exporter.get_finished_spans()) < 4 and gevent.get_hub().loop.now() < deadline:
        gevent.sleep(0.05)
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["echo receive", "boom receive", "_other receive", "echo receive"]
    for span in spans:
        assert span.kind is SpanKind.CONSUMER
        assert format(span.context.trace_id, "032x") == TRACE_ID
        assert format(span.parent.span_id, "016x") == PARENT_ID
        assert span.attributes["messaging.system"] == "socket.io"
        assert span.attributes["messaging.destination.name"] == "/"
    boom = spans[1]
    assert boom.status.status_code is StatusCode.ERROR
    assert boom.events[0].name == "exception"
    assert spans[0].status.status_code is StatusCode.UNSET


def test_without_traceparent_each_event_is_a_root(traced) -> None:
    url, exporter = traced
    client = python_socketio.Client()
    client.connect(url, transports=["polling"])
    try:
        client.call("echo", 1, timeout=5)
        client.call("echo", 2, timeout=5)
    finally:
        client.disconnect()
    spans = exporter.get_finished_spans()
    assert len(spans) == 2 and all(s.parent is None for s in spans)
    assert spans[0].context.trace_id != spans[1].context.trace_id
