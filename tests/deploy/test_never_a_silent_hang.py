"""A deployment its async_mode cannot serve fails at once, loudly and once, never with a hung request."""
import json
import logging

import gevent
import pytest
import requests
from gevent import pywsgi

import siothread as socketio

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"
WS_PROBE_HEADERS = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def test_eventlet_is_refused_at_construction_naming_the_supported_modes():
    with pytest.raises(ValueError, match=r"'eventlet'.*'gevent'.*'gevent_uwsgi'.*'threading'"):
        socketio.Server(async_mode="eventlet")


def test_gevent_mode_under_werkzeugs_threaded_server_answers_500_and_logs_the_fix_once(deploy):
    d = deploy("werkzeug", DEPLOY_ASYNC_MODE="gevent")
    assert d.mode == "gevent"
    for _ in range(3):
        r = requests.get(d.url + HANDSHAKE, timeout=5)
        assert r.status_code == 500
        assert r.json() == {"code": 3, "message": "async_mode does not match the WSGI server"}
    r = requests.get(d.url + "/socket.io/?EIO=4&transport=websocket", headers=WS_PROBE_HEADERS, timeout=5)
    assert r.status_code == 500
    log = d.output()
    assert log.count("async_mode='gevent' but the WSGI server calls the application from OS threads") == 1
    assert "async_mode='threading'" in log and "python -m siothread" in log
    # the rest of the site is unaffected
    assert requests.get(d.url + "/", timeout=5).status_code == 200


@pytest.fixture
def plain_pywsgi():
    """gevent's pywsgi without gevent-websocket's handler: a gevent server that cannot hand over."""
    sio = socketio.Server(async_mode="gevent")
    server = pywsgi.WSGIServer(("127.0.0.1", 0), socketio.WSGIApp(sio), log=None)
    server.start()
    yield sio, f"http://127.0.0.1:{server.server_port}"
    sio.shutdown(timeout=1)
    server.stop(timeout=1)


def test_websocket_on_a_server_that_cannot_hand_over_is_refused_and_logged_once(plain_pywsgi, caplog):
    sio, url = plain_pywsgi
    with caplog.at_level(logging.ERROR, logger="siothread.engine"):
        for _ in range(2):
            r = requests.get(url + "/socket.io/?EIO=4&transport=websocket", headers=WS_PROBE_HEADERS, timeout=5)
            assert r.status_code == 400 and r.json() == {"code": 3, "message": "Bad request"}
    errors = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.ERROR]
    assert len(errors) == 1 and "cannot hand the connection over for a WebSocket" in errors[0]
    assert "transports=['polling']" in errors[0]


def test_a_client_with_default_transports_stays_on_polling_there(plain_pywsgi):
    sio, url = plain_pywsgi
    got = []

    @sio.on("echo")
    def echo(sid, data):
        return data

    client = socketio.Client(reconnection=False)
    client.connect(url)
    try:
        got.append(client.call("echo", "still here", timeout=5))
        gevent.sleep(0.3)
        assert client.transport() == "polling"
        assert got == ["still here"]
    finally:
        client.disconnect()


def test_a_refused_cors_origin_is_logged_as_a_warning_with_the_origin(plain_pywsgi, caplog):
    _, url = plain_pywsgi
    with caplog.at_level(logging.WARNING, logger="siothread.engine"):
        for _ in range(2):
            r = requests.get(url + HANDSHAKE, headers={"Origin": "http://evil.example"}, timeout=5)
            assert r.status_code == 403
        r = requests.get(url + HANDSHAKE, headers={"Origin": "http://other.example"}, timeout=5)
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "'http://evil.example' is not an accepted origin" in warnings[0]
    assert "'http://other.example'" in warnings[1]


def test_refused_origins_cannot_flood_the_log(plain_pywsgi, caplog):
    _, url = plain_pywsgi
    with caplog.at_level(logging.WARNING, logger="siothread.engine"):
        for i in range(40):
            requests.get(url + HANDSHAKE, headers={"Origin": f"http://o{i}.example" + "x" * 300}, timeout=5)
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 33 and "no longer logging" in warnings[-1]
    assert all(len(w) < 400 for w in warnings)


def test_the_handshake_offers_websocket_only_where_it_can_be_handed_over(plain_pywsgi):
    _, url = plain_pywsgi
    body = requests.get(url + HANDSHAKE, timeout=5).text
    # gevent's pywsgi may carry gevent-websocket's handler: the upgrade is offered
    assert json.loads(body[1:])["upgrades"] == ["websocket"]


def test_threading_mode_under_gevents_server_without_patching_answers_500_and_logs_once(deploy):
    # async_mode='threading' asked for explicitly; siothread.serve is gevent's server.
    d = deploy("siothread", DEPLOY_ASYNC_MODE="threading")
    assert d.mode == "threading"
    for _ in range(2):
        r = requests.get(d.url + HANDSHAKE, timeout=5)
        assert r.status_code == 500 and r.json()["message"] == "async_mode does not match the WSGI server"
    log = d.output()
    assert log.count("async_mode='threading' but the request runs in a gevent greenlet") == 1
    assert "async_mode='gevent'" in log


def test_waitress_offers_no_upgrade_and_refuses_websocket_with_one_logged_error(deploy):
    d = deploy("waitress")
    assert d.mode == "threading"
    assert json.loads(requests.get(d.url + HANDSHAKE, timeout=5).text[1:])["upgrades"] == []
    for _ in range(2):
        r = requests.get(d.url + "/socket.io/?EIO=4&transport=websocket", headers=WS_PROBE_HEADERS, timeout=5)
        assert r.status_code == 400
    assert d.output().count("cannot hand the connection over for a WebSocket") == 1
