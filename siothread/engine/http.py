"""HTTP helpers of the engine: query parsing, the Origin policy, CORS headers, fixed error bodies.

Error bodies are fixed strings chosen by code, never built from request data
(python-engineio 72b7136 / row E18), and carry ``X-Content-Type-Options: nosniff``.
"""
from __future__ import annotations

import gzip
import json
import zlib
from typing import Callable, Iterable, List, Optional, Tuple
from urllib.parse import unquote

from ..errors import EngineErrorCode
from .config import EngineConfig

__all__ = [
    "Headers", "StartResponse", "parse_query", "error_response", "own_origins",
    "origin_allowed", "cors_headers", "preflight_headers", "compress_body", "STATUS_TEXT",
]

Headers = List[Tuple[str, str]]
StartResponse = Callable[..., object]

STATUS_TEXT = {
    200: "200 OK",
    204: "204 No Content",
    400: "400 Bad Request",
    403: "403 Forbidden",
    405: "405 Method Not Allowed",
    408: "408 Request Timeout",
    413: "413 Payload Too Large",
    503: "503 Service Unavailable",
}

#: The longest query string we parse; a handshake needs a few dozen bytes.
MAX_QUERY_LENGTH = 8192


def parse_query(environ: dict) -> dict:
    """The first value of each query parameter (empty values kept); oversize queries parse as empty.

    The same result as ``{k: v[0] for k, v in parse_qs(qs, keep_blank_values=True).items()}``
    (``&`` separates fields, ``+`` is a space, %-escapes are UTF-8 with replacement), without
    its per-field machinery: every long-polling request parses its query.
    """
    qs = environ.get("QUERY_STRING", "")
    if len(qs) > MAX_QUERY_LENGTH:
        return {}
    query: dict = {}
    for field in qs.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "%" in field or "+" in field:
            name = unquote(name.replace("+", " "))
            value = unquote(value.replace("+", " "))
        if name not in query:
            query[name] = value
    return query


def error_response(
    start_response: StartResponse,
    code: EngineErrorCode,
    status: int = 400,
    extra_headers: Optional[Headers] = None,
    message: Optional[str] = None,
) -> List[bytes]:
    """A fixed engine.io error body ``{"code":n,"message":"..."}``."""
    body = json.dumps({"code": int(code), "message": message or code.message}, separators=(",", ":")).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    ]
    if extra_headers:
        headers.extend(extra_headers)
    start_response(STATUS_TEXT.get(status, f"{status} Error"), headers)
    return [body]


def plain_response(start_response: StartResponse, status: int, body: bytes, extra_headers: Optional[Headers] = None) -> List[bytes]:
    headers = [
        ("Content-Type", "text/plain; charset=UTF-8"),
        ("Content-Length", str(len(body))),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if extra_headers:
        headers.extend(extra_headers)
    start_response(STATUS_TEXT.get(status, f"{status} Error"), headers)
    return [body]


def own_origins(environ: dict, config: EngineConfig) -> List[str]:
    """The origins that count as "same origin" for this request."""
    host = environ.get("HTTP_HOST") or ""
    scheme = environ.get("wsgi.url_scheme", "http")
    origins = [f"{scheme}://{host}"] if host else []
    if config.trust_forwarded_headers:
        fwd_host = environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[0].strip() or host
        fwd_proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip() or scheme
        if fwd_host:
            origins.append(f"{fwd_proto}://{fwd_host}")
    return origins


def origin_allowed(environ: dict, config: EngineConfig) -> bool:
    """The Origin decision for polling and WebSocket alike (CVE-2019-13611)."""
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return True  # not a browser: the same-origin policy protects nothing here
    policy = config.cors_allowed_origins
    if policy.wildcard:
        return True
    return policy.allows(origin, own_origins(environ, config) if policy.setting is None else ())


def cors_headers(environ: dict, config: EngineConfig) -> Headers:
    """CORS response headers for an allowed request (empty without an Origin header)."""
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return []
    if config.cors_allowed_origins.wildcard:
        # Never '*' together with credentials: browsers refuse it, and echoing the origin
        # with credentials would hand every site the user's cookies.
        return [("Access-Control-Allow-Origin", "*")]
    headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    if config.cors_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    return headers


_HEADER_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_, ")


def preflight_headers(environ: dict, config: EngineConfig) -> Headers:
    headers = cors_headers(environ, config)
    headers.append(("Access-Control-Allow-Methods", "OPTIONS, GET, POST"))
    requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")
    if requested and len(requested) <= 1024 and set(requested) <= _HEADER_TOKEN:
        headers.append(("Access-Control-Allow-Headers", requested))
    headers.append(("Access-Control-Max-Age", "86400"))
    return headers


def compress_body(environ: dict, body: bytes, config: EngineConfig) -> Tuple[bytes, Optional[str]]:
    """gzip/deflate a polling response over the threshold when the client accepts it."""
    if not config.http_compression or len(body) < config.compression_threshold:
        return body, None
    accept = environ.get("HTTP_ACCEPT_ENCODING", "")
    encodings = {e.split(";")[0].strip().lower() for e in accept.split(",")}
    if "gzip" in encodings:
        return gzip.compress(body, compresslevel=6), "gzip"
    if "deflate" in encodings:
        return zlib.compress(body, 6), "deflate"
    return body, None


def iter_once(body: bytes) -> Iterable[bytes]:
    return [body]
