"""siothread.metrics scraped over HTTP from a running server while real clients use it.

socket.io-client 4.8 (npm) sends a known amount of traffic; the counters read from
``/metrics`` (parsed by prometheus_client's own parser) must match it exactly.
"""
from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.request
from typing import Any, Dict, Iterator, Tuple

import gevent
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import siothread
from siothread.metrics import Metrics
from tests.conftest import JS_DIR, require_node_modules
from tests.ops.ops_helpers import running

Samples = Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@contextlib.contextmanager
def metered(sio: siothread.Server) -> Iterator[str]:
    """``sio`` with a Metrics attached, served with ``/metrics``; yields the base URL."""
    metrics = Metrics(sio)
    try:
        with running(sio, metrics.mount(siothread.WSGIApp(sio))) as url:
            yield url
    finally:
        metrics.close()


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def server() -> Iterator[Tuple[str, siothread.Server]]:
    sio = siothread.Server(max_queue=8, overflow="disconnect")

    for ns in ("/", "/chat"):
        sio.on("echo", lambda sid, data: data, namespace=ns)

    @sio.on("*")
    def anything(event: str, sid: str, *args: Any) -> None:
        return None

    @sio.on("ask")
    def ask(sid: str, n: int) -> int:
        return sum(sio.call("ping-me", i, to=sid, timeout=5) for i in range(n))

    @sio.on("flood")
    def flood(sid: str) -> None:
        for i in range(20):
            sio.emit("flood", i, to=sid)

    with metered(sio) as url:
        yield url, sio


@pytest.mark.node
def test_counts_match_what_socket_io_client_sent(server) -> None:
    url, sio = server
    require_node_modules()
    proc = subprocess.Popen(["node", str(JS_DIR / "metrics_client.js"), url], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        sent = json.loads(line)
        assert sent["refused"] == "Invalid namespace"
        s = scrape(url)
        assert value(s, "siothread_connected_sockets", namespace="/", transport="websocket") == 1
        assert value(s, "siothread_connected_sockets", namespace="/chat", transport="websocket") == 1
        assert value(s, "siothread_handshakes_total", transport="polling") == 1
        assert value(s, "siothread_handshakes_total", transport="websocket") == 2
        assert value(s, "siothread_upgrades_total", outcome="websocket") == 1
        # 10 echo + 5 unregistered + 1 ask on "/", 3 echo on "/chat"
        assert value(s, "siothread_events_received_total", namespace="/") == 16
        assert value(s, "siothread_events_received_total", namespace="/chat") == 3
        assert value(s, "siothread_handler_duration_seconds_count", event="echo") == 13
        assert value(s, "siothread_handler_duration_seconds_count", event="ask") == 1
        # the names with no handler of their own are one label, whatever the client sent
        assert value(s, "siothread_handler_duration_seconds_count", event="_other") == 5
        assert not any("unregistered" in str(labels) for _, labels in s)
        assert value(s, "siothread_events_sent_total", namespace="/") == 3
        assert value(s, "siothread_ack_rtt_seconds_count", namespace="/") == 3
        assert value(s, "siothread_ack_rtt_seconds_bucket", namespace="/", le="+Inf") == 3
        assert value(s, "siothread_connect_refusals_total", namespace="_other", reason="invalid_namespace") == 1
        assert value(s, "siothread_received_bytes_total", namespace="/") > 16 * 10
        assert value(s, "siothread_sent_bytes_total", namespace="/chat") > 0
        assert value(s, "siothread_adapter_up", adapter="MemoryManager") == 1
        proc.stdin.write("done\n")
        proc.stdin.flush()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        proc.stdin.close()
    deadline = gevent.get_hub().loop.now() + 5
    while sio._clients and gevent.get_hub().loop.now() < deadline:
        gevent.sleep(0.05)
    s = scrape(url)
    assert sum(v for (name, _), v in s.items() if name == "siothread_disconnects_total") == 3
    assert not any(name == "siothread_connected_sockets" for name, _ in s)


def test_refusals_overflow_and_slow_consumers(server) -> None:
    url, sio = server
    # a cross-site handshake is refused before a session exists
    r = requests.get(url + "/socket.io/?EIO=4&transport=polling", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    # a polling client that stops fetching: its queue (max_queue=8) overflows and it is closed
    open_packet = requests.get(url + "/socket.io/?EIO=4&transport=polling").text
    sid = json.loads(open_packet[1:])["sid"]
    poll = f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}"
    assert requests.post(poll, data="40").text == "ok"
    assert requests.get(poll).text.startswith("40")
    assert requests.post(poll, data='42["flood"]').text == "ok"
    deadline = gevent.get_hub().loop.now() + 5
    while sio._clients and gevent.get_hub().loop.now() < deadline:
        gevent.sleep(0.05)
    s = scrape(url)
    assert value(s, "siothread_handshake_refusals_total", reason="origin") == 1
    assert value(s, "siothread_queue_overflows_total", policy="disconnect") == 1
    assert value(s, "siothread_slow_consumer_disconnects_total") == 1
    assert value(s, "siothread_disconnects_total", reason="slow consumer") == 1


def test_handshake_refusal_reasons() -> None:
    sio = siothread.Server(max_sessions=1, allow_request=lambda environ: "nope" not in environ["QUERY_STRING"])
    handshake = "/socket.io/?EIO=4&transport=polling"
    with metered(sio) as url:
        assert requests.get(url + handshake + "&nope=1").status_code == 403
        assert requests.get(url + handshake).status_code == 200
        assert requests.get(url + handshake).status_code == 503  # max_sessions=1
        sio.eio.stop_accepting()
        assert requests.get(url + handshake).status_code == 503
        s = scrape(url)
    assert value(s, "siothread_handshake_refusals_total", reason="allow_request") == 1
    assert value(s, "siothread_handshake_refusals_total", reason="too_many_sessions") == 1
    assert value(s, "siothread_handshake_refusals_total", reason="shutting_down") == 1
    assert value(s, "siothread_handshakes_total", transport="polling") == 1


def test_upgrade_outcomes() -> None:
    import websocket

    sio = siothread.Server(upgrade_timeout=0.3)

    def polling_session(url: str) -> str:
        sid = json.loads(requests.get(url + "/socket.io/?EIO=4&transport=polling").text[1:])["sid"]
        return f"{url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket&sid={sid}"

    with metered(sio) as url:
        done = polling_session(url)
        ws = websocket.create_connection(done, timeout=5)
        ws.send("2probe")
        assert ws.recv() == "3probe"
        ws.send("5")
        # a second WebSocket for that sid: accepted, then closed at once (as Node does)
        second = websocket.create_connection(done, timeout=5)
        assert second.recv_data()[0] == websocket.ABNF.OPCODE_CLOSE
        second.shutdown()
        failed = websocket.create_connection(polling_session(url), timeout=5)
        failed.send("2probe")
        assert failed.recv() == "3probe"
        failed.close()
        idle = websocket.create_connection(polling_session(url), timeout=5)
        deadline = gevent.get_hub().loop.now() + 5
        while value(scrape(url), "siothread_upgrades_total", outcome="timeout") < 1:
            assert gevent.get_hub().loop.now() < deadline
            gevent.sleep(0.05)
        while value(scrape(url), "siothread_upgrades_total", outcome="failed") < 1:
            assert gevent.get_hub().loop.now() < deadline
            gevent.sleep(0.05)
        s = scrape(url)
        idle.close()
        ws.close()
    assert value(s, "siothread_upgrades_total", outcome="websocket") == 1
    assert value(s, "siothread_upgrades_total", outcome="refused") == 1
    assert value(s, "siothread_upgrades_total", outcome="failed") == 1
    assert value(s, "siothread_upgrades_total", outcome="timeout") == 1
