"""The long-polling transport: GET delivers queued packets, POST carries the client's packets.

Spec: engine.io-protocol v4 "HTTP long-polling". Rules enforced here:
- one GET and one POST in flight per session; an overlapping request is a
  transport error that closes the session (conformance "duplicate poll");
- a GET waits until something is queued, the session closes or the ping
  interval passes (then it answers NOOP: it never hangs, row E15);
- a POST body is capped while it is read (413 before buffering past the cap,
  CVE-2020-36048) and must arrive within ``body_timeout`` (slow bodies, E14);
- an invalid payload closes the session (E7).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, List, Optional
from urllib.parse import parse_qs

from ..errors import EngineErrorCode, RemoteProtocolError
from ..protocol.engineio import SEPARATOR, decode_payload
from . import legacy
from .http import StartResponse, compress_body, cors_headers, error_response
from .session import Reason, Session, State

if TYPE_CHECKING:  # pragma: no cover
    from .owner import SessionOwner

__all__ = ["handle_get", "handle_post", "read_body", "BodyTooLarge", "BodyTimeout"]

_CHUNK = 65536


class BodyTooLarge(Exception):
    """The request body crossed the cap."""


class BodyTimeout(Exception):
    """The request body did not arrive in time."""


def read_body(owner: "SessionOwner", environ: dict, limit: int) -> bytes:
    """Read the request body, at most ``limit`` bytes, within ``body_timeout``.

    Raises BodyTooLarge as soon as the declared or received size crosses the cap,
    without reading further.
    """
    try:
        declared: Optional[int] = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        declared = -1
    if declared is not None and declared > limit:
        raise BodyTooLarge()
    stream = environ.get("wsgi.input")
    if stream is None or declared == 0:
        return b""
    if declared is not None and declared > 0:
        # siothread's server: a body that came with its head needs no deadline
        buffered = getattr(stream, "read_buffered", None)
        if buffered is not None:
            body = buffered(declared)
            if body is not None:
                return bytes(body)
    parts: List[bytes] = []
    received = 0
    rt = owner.runtime
    try:
        with rt.Timeout(owner.config.body_timeout, BodyTimeout):
            while True:
                want = min(_CHUNK, limit + 1 - received)
                if declared is not None and declared >= 0:
                    want = min(want, declared - received)
                    if want <= 0:
                        break
                chunk = stream.read(want)
                if not chunk:
                    break
                received += len(chunk)
                if received > limit:
                    raise BodyTooLarge()
                parts.append(chunk)
    except (OSError, ValueError):
        raise BodyTimeout() from None
    return b"".join(parts)


def jsonp_index(query: dict) -> Optional[str]:
    j = query.get("j")
    if j is None:
        return None
    return j if j.isdigit() and len(j) <= 6 else ""


def jsonp_wrap(index: str, payload: str) -> bytes:
    import json

    # engine.io polling-jsonp.ts: JSON-quote, then escape the separators JS would
    # treat as line ends inside a string literal; "</" is escaped so the body can
    # never close a surrounding <script> element.
    js = json.dumps(payload).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("</", "<\\/")
    return f"___eio[{index}]({js});".encode()


_JSONP_NEWLINES = re.compile(r"(\\)?\\n")


def _watch_hangup(owner: "SessionOwner", environ: dict, session: Session, gone: List[bool]) -> Any:
    """While a GET is parked, notice the client closing its connection; None when we cannot.

    The request's socket (under pywsgi or gunicorn's gevent worker) is peeked at when it
    turns readable (a watcher in the event loop, no greenlet): EOF or a reset marks ``gone``
    and wakes the GET; a pipelined request (data) ends the watch; a TLS socket (no MSG_PEEK)
    is not watched. Under siothread's own server the request's ``wsgi.input`` offers the
    watch itself (``on_hangup``), on a watcher the connection keeps. Returns the function
    that stops the watch.
    """

    def hung_up() -> None:
        gone.append(True)
        session.wake_poll()

    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if sock is None:
        watch = getattr(environ.get("wsgi.input"), "on_hangup", None)
        if watch is not None:
            return watch(hung_up)
        # pywsgi (ours and gevent-websocket's): wsgi.input reads a socket.makefile() reader
        rfile = getattr(environ.get("wsgi.input"), "rfile", None)
        sock = getattr(getattr(rfile, "raw", None), "_sock", None)
    if sock is None or not hasattr(sock, "recv"):
        return None
    return owner.runtime.on_hangup(sock, hung_up)


def handle_get(owner: "SessionOwner", session: Session, environ: dict, query: dict,
               start_response: StartResponse) -> List[bytes]:
    extra = cors_headers(environ, owner.config)
    index = jsonp_index(query)
    if index == "":
        # Refused before it takes (and would lose) what is queued for the session.
        return error_response(start_response, EngineErrorCode.BAD_REQUEST, extra_headers=extra)
    if session.poll_active:
        # Two GETs at once: the first one receives the CLOSE packet.
        session.close(Reason.TRANSPORT_ERROR)
        return error_response(start_response, EngineErrorCode.BAD_REQUEST)
    session.poll_active = True
    try:
        if not session.has_pending() and not session.closed:
            if session.state is State.UPGRADING:
                # The client is pausing polling for an upgrade: release it at once.
                segments = ["6"]
            else:
                gone: List[bool] = []
                watcher = _watch_hangup(owner, environ, session, gone)
                try:
                    session.wait_for_pending(owner.config.ping_interval + owner.config.ping_timeout)
                finally:
                    if watcher is not None:
                        watcher()
                if gone:
                    # The client cancelled the long poll (conformance "closes the session
                    # upon cancelled polling request"; Node: "poll connection closed prematurely").
                    session.close(Reason.TRANSPORT_ERROR)
                    return error_response(start_response, EngineErrorCode.BAD_REQUEST)
                segments = session.take_pending() or ["6"]
        else:
            segments = session.take_pending() or ["6"]
    finally:
        session.poll_active = False
    if session.protocol == 3:
        if index is None:
            body, ctype = legacy.polling_body(segments, query)
            return _send(start_response, body, extra, content_type=ctype)
        payload = legacy.jsonp_payload(segments)
    else:
        payload = SEPARATOR.join(segments)
    if index is not None:
        body = jsonp_wrap(index, payload)
        extra.append(("Content-Type", "text/javascript; charset=UTF-8"))
        return _send(start_response, body, extra, content_type=None)
    body, encoding = compress_body(environ, payload.encode("utf-8"), owner.config)
    if encoding:
        extra.append(("Content-Encoding", encoding))
    return _send(start_response, body, extra)


def _send(start_response: StartResponse, body: bytes, extra: list, content_type: Optional[str] = "text/plain; charset=UTF-8") -> List[bytes]:
    headers = [("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    if content_type:
        headers.append(("Content-Type", content_type))
    headers.extend(extra)
    start_response("200 OK", headers)
    return [body]


def handle_post(owner: "SessionOwner", session: Session, environ: dict, query: dict,
                start_response: StartResponse) -> List[bytes]:
    extra = cors_headers(environ, owner.config)
    ctype = environ.get("CONTENT_TYPE", "")
    if ctype.split(";")[0].strip().lower() == "application/octet-stream" and session.protocol != 3:
        # EIO4 polling bodies are text; answer and end the response (CVE-2026-59725).
        session.close(Reason.TRANSPORT_ERROR)
        return error_response(start_response, EngineErrorCode.BAD_REQUEST, extra_headers=extra)
    if session.post_active:
        session.close(Reason.TRANSPORT_ERROR)
        return error_response(start_response, EngineErrorCode.BAD_REQUEST, extra_headers=extra)
    session.post_active = True
    try:
        try:
            body = read_body(owner, environ, owner.config.max_http_buffer_size)
        except BodyTooLarge:
            session.close(Reason.TRANSPORT_ERROR)
            # The rest of the body is never read: the connection cannot be reused (E5).
            return error_response(start_response, EngineErrorCode.BAD_REQUEST, 413,
                                  extra + [("Connection", "close")])
        except BodyTimeout:
            session.close(Reason.TRANSPORT_ERROR)
            return error_response(start_response, EngineErrorCode.BAD_REQUEST, 408,
                                  extra + [("Connection", "close")])
        index = jsonp_index(query)
        try:
            if index is not None:
                if index == "":
                    raise RemoteProtocolError("invalid JSONP index")
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=4)
                text = form.get("d", [""])[0]
                text = _JSONP_NEWLINES.sub(lambda m: m.group(0) if m.group(1) else "\n", text)
                max_packets = owner.config.max_packets_per_payload
                packets = (legacy.decode_post(text, "", max_packets) if session.protocol == 3
                           else decode_payload(text, max_packets=max_packets))
            elif session.protocol == 3:
                packets = legacy.decode_post(body, ctype, owner.config.max_packets_per_payload)
            else:
                packets = decode_payload(body, max_packets=owner.config.max_packets_per_payload)
        except (RemoteProtocolError, UnicodeDecodeError, ValueError):
            session.close(Reason.PARSE_ERROR)
            return error_response(start_response, EngineErrorCode.BAD_REQUEST, extra_headers=extra)
        session.heard = True
        for packet in packets:
            if session.closed:
                break
            owner.session_packet(session, packet)
    finally:
        session.post_active = False
    body_out = b"ok"
    headers = [("Content-Type", "text/html; charset=UTF-8"), ("Content-Length", "2")]
    headers.extend(extra)
    start_response("200 OK", headers)
    return [body_out]
