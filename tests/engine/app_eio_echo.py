"""An Engine.IO echo application, served unchanged by every deployment mode under test.

``app`` is the WSGI application (Engine.IO under ``/socket.io/``); every message a
client sends comes back to it, text as text and binary as binary.
"""
import siothread
from siothread.engine import Server

eio = Server(ping_interval=5, ping_timeout=5)


@eio.on("message")
def echo(sid, data):
    eio.send(sid, data)


app = siothread.WSGIApp(eio)
