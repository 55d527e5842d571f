"""JSON with limits, for data a peer controls (pure, stdlib only).

:func:`loads` and :class:`JsonReader` accept exactly what ``JSON.parse``
accepts (RFC 8259 text, surrounding whitespace allowed) minus what a
Python server cannot carry safely:

* nesting deeper than ``max_depth`` lists/objects. ``json.loads`` recurses
  once per level, so depth is checked *before* parsing, in linear time and
  without recursion (advisory gap G7: 3000 nested ``[`` raised
  ``RecursionError`` in python-socketio);
* integers with more than ``max_int_digits`` digits (``int()`` of a long
  digit run is quadratic; python-engineio ``json.py`` ``_safe_int``);
* ``NaN``, ``Infinity``, ``-Infinity`` and float literals that overflow to
  infinity (not JSON; ``JSON.stringify`` cannot send them back);
* lone UTF-16 surrogates, raw or escaped (``"\\ud800"``): Python would keep
  them in a ``str`` that later fails to encode as UTF-8 while being sent to
  someone else; rejecting them at the boundary keeps every decoded string
  encodable.

Every failure raises :class:`~siothread.errors.RemoteProtocolError` with
close code 1007 (``INVALID_DATA``, RFC 6455 section 7.4.1: data inconsistent
with the message type). :func:`dumps` is the compact encoder used for
outgoing packets.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from itertools import accumulate
from typing import Any, Callable

from ..errors import CloseCode, EngineErrorCode, RemoteProtocolError

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_INT_DIGITS",
    "JsonReader",
    "shared_reader",
    "loads",
    "dumps",
    "check_text",
    "has_lone_surrogate",
]

# Depth 64 is far above what applications send (a few levels) and far below
# the interpreter recursion limit that json.loads would otherwise hit.
DEFAULT_MAX_DEPTH = 64
# python-engineio ``json.py`` caps JSON integers at 100 digits.
DEFAULT_MAX_INT_DIGITS = 100

_SURROGATE = re.compile("[\ud800-\udfff]")
# An escaped surrogate code unit. A preceding escaped backslash (``\\ud800``)
# also matches; that only costs the exact check below, never a wrong answer.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_FOLD_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_SHAPE = bytes(i for i in range(256) if i not in b'[]{}"')
_SIGNS = bytes.maketrans(b"[]", b"\x01\xff")
_PEEL_ROUNDS = 4
# Digits become "0", e/E become "e", opening brackets "[", everything else a
# space, and signs are deleted: "1e+308" reads "0e000", "-" + 101 digits a run
# of 101 "0", and counting "[" counts the opening brackets.
_SCAN_SHAPE = bytes(
    ord("0") if 48 <= i <= 57 else ord("e") if i in (69, 101) else ord("[") if i in (91, 123) else ord(" ")
    for i in range(256)
)
_MAX_PLAIN_DIGITS = 200
_WHITESPACE = " \t\n\r"

_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_COMPACT_ASCII = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _invalid(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(
        message,
        engine_code=EngineErrorCode.BAD_REQUEST,
        http_status=400,
        close_code=CloseCode.INVALID_DATA,
    )


class _Rejected(ValueError):
    """Raised from inside the json parse hooks; caught and translated below."""


def _reject_constant(name: str) -> Any:
    raise _Rejected(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value != 0.0:  # inf - inf is nan; nan != 0
        raise _Rejected("number out of range")
    return value


def _int_parser(max_digits: int) -> Callable[[str], int]:
    def parse_int(text: str) -> int:
        if len(text) > max_digits and len(text.lstrip("-")) > max_digits:
            raise _Rejected("integer too long")
        return int(text)

    return parse_int


def _deeper_than(text: str, start: int, limit: int) -> bool:
    """Whether ``text[start:]`` nests lists/objects more than ``limit`` deep (brackets in strings ignored).

    Linear and recursion-free, every step a C-level bytes operation: drop
    escaped backslashes and quotes, keep only brackets and quotes (``{}``
    folded into ``[]``), cut out the string contents, then measure the
    nesting of what is left. For valid JSON the answer is exact. For invalid
    JSON it bounds how deep any left-to-right parser could get before failing,
    so no parser is handed more than ``limit`` levels, even one that, unlike
    ``json``, has no recursion guard.
    """
    raw = text[start:].encode("utf-8", "surrogatepass")
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    shape = raw.translate(_FOLD_BRACKETS, _NOT_SHAPE)
    if b'"' in shape:
        shape = shape.replace(b'""', b"")  # empty after translation: most strings
        if b'"' in shape:
            shape = b"".join(shape.split(b'"')[0::2])
    # Shallow data (the common case) empties in a few cheap C-level rounds of
    # peeling innermost "[]" pairs; each round removes exactly one level.
    rounds = 0
    while shape and rounds < _PEEL_ROUNDS:
        peeled = shape.replace(b"[]", b"")
        if peeled == shape:
            break
        rounds += 1
        shape = peeled
    if not shape:
        return rounds > limit
    # Deeper or unbalanced: the maximum running sum of +1/-1 over what is left,
    # one C-level pass (itertools.accumulate over a signed-byte view).
    steps = memoryview(shape.translate(_SIGNS)).cast("b")
    return rounds + max(accumulate(steps)) > limit


def check_text(text: str, start: int, max_depth: int) -> None:
    """The checks that run on JSON text before any parser sees it.

    Rejects nesting deeper than ``max_depth`` and raw surrogate code points in
    ``text[start:]``. Linear time; the common small message costs two
    ``str.count`` calls, or nothing when it is shorter than ``max_depth``.

    Raises:
        RemoteProtocolError: either check failed.
    """
    # More opening brackets than the limit is the only way to exceed it; a
    # short text cannot even hold that many characters.
    if len(text) - start > max_depth and (
        text.count("[", start) + text.count("{", start) > max_depth
    ):
        if _deeper_than(text, start, max_depth):
            raise _invalid("JSON nested too deeply")
    if not text.isascii() and _SURROGATE.search(text, start) is not None:
        raise _invalid("lone surrogate in text")


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string in a decoded JSON value (keys included) holds a surrogate code point.

    Valid surrogate pairs never survive ``json`` decoding as surrogates (they
    are combined), so any surrogate left is a lone one.
    """
    return _SURROGATE.search(_COMPACT.encode(value)) is not None


class JsonReader:
    """A JSON parser bound to one set of limits; build it once, call :meth:`parse` often.

    Args:
        max_depth: deepest allowed nesting of lists and objects (``[]`` is 1).
        max_int_digits: longest allowed integer literal, in digits.

    Two :class:`json.JSONDecoder` instances are built here, not per call: a
    plain one (C scanner, C number parsing) and a strict one whose number
    hooks enforce ``max_int_digits`` and finiteness from Python, one call per
    number. A linear byte scan picks the strict one only when the text holds
    a digit run longer than the cap or an exponent of three or more digits,
    the only ways to write a too-long integer or a float that overflows; so
    the common message pays no per-number Python call.
    """

    __slots__ = ("max_depth", "max_int_digits", "short", "scan_short", "_digit_run", "_plain", "_strict")

    def __init__(
        self,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_int_digits: int = DEFAULT_MAX_INT_DIGITS,
    ) -> None:
        if max_depth < 1 or max_int_digits < 1:
            raise ValueError("limits must be positive")
        self.max_depth = max_depth
        self.max_int_digits = max_int_digits
        # At most 200 digits before the plain decoder may be used: with an
        # exponent below 100 that keeps every float below 1e300 (finite).
        self._digit_run = b"0" * (min(max_int_digits, _MAX_PLAIN_DIGITS) + 1)
        # scan_once is the C scanner itself (json.scanner.c_make_scanner):
        # calling it directly skips the Python frame of JSONDecoder.raw_decode.
        self._plain = json.JSONDecoder(parse_constant=_reject_constant).scan_once
        self._strict = json.JSONDecoder(
            parse_int=_int_parser(max_int_digits),
            parse_float=_finite_float,
            parse_constant=_reject_constant,
        ).scan_once
        #: the longest JSON text :attr:`scan_short` may be given: it cannot hold
        #: an integer longer than ``max_int_digits`` (nor a float mantissa long
        #: enough to overflow), and nests at most ``max_depth`` deep if it holds
        #: at most ``max_depth`` opening brackets
        self.short = min(max_int_digits, _MAX_PLAIN_DIGITS)
        #: ``scan_short(text, start) -> (value, end)``: the C scanner for such a
        #: short text, for callers that inline the checks of :meth:`parse` (a
        #: packet decoder's fast path). Floats go through the finiteness check
        #: (one Python call each; a short text holds few). The caller checks
        #: the length, the brackets, raw and escaped surrogates and that the
        #: value ends the text; any exception means "not valid", and
        #: :meth:`parse` then gives the error.
        self.scan_short = json.JSONDecoder(parse_float=_finite_float, parse_constant=_reject_constant).scan_once

    def parse(self, text: str, start: int = 0) -> Any:
        """Parse ``text[start:]`` as one JSON value.

        ``start`` lets a caller parse the tail of a packet without copying it.

        Raises:
            RemoteProtocolError: malformed JSON, trailing garbage, any limit
                exceeded, a non-finite number or a lone surrogate.
        """
        end = len(text)
        # One C-level pass gives what both cheap checks need (see _SCAN_SHAPE).
        if not text.isascii() and _SURROGATE.search(text, start) is not None:
            raise _invalid("lone surrogate in text")
        shape = text[start:].encode().translate(_SCAN_SHAPE, b"+-")
        if shape.count(b"[") > self.max_depth and _deeper_than(text, start, self.max_depth):
            raise _invalid("JSON nested too deeply")
        if self._digit_run in shape or b"e000" in shape:
            scan_once = self._strict
        else:
            scan_once = self._plain
        if start < end and text[start] in _WHITESPACE:
            start = end - len(text[start:].lstrip(_WHITESPACE))
        try:
            value, stop = scan_once(text, start)
        except (ValueError, RecursionError, StopIteration) as exc:
            # StopIteration: no JSON value at all; ValueError covers
            # JSONDecodeError and the hook rejections; RecursionError is a
            # backstop (the depth check runs first).
            reason = str(exc) if isinstance(exc, _Rejected) else "invalid JSON"
            raise _invalid(reason) from None
        if stop != end and text[stop:].strip(_WHITESPACE):
            raise _invalid("trailing data after JSON")
        if "\\u" in text and _ESCAPED_SURROGATE.search(text, start) is not None:
            if has_lone_surrogate(value):
                raise _invalid("lone surrogate in JSON string")
        return value


@lru_cache(maxsize=16)
def shared_reader(max_depth: int = DEFAULT_MAX_DEPTH, max_int_digits: int = DEFAULT_MAX_INT_DIGITS) -> JsonReader:
    """One :class:`JsonReader` per pair of limits for the whole process.

    A reader holds no state between calls (the C scanners clear their key memo
    after each value), so every connection with the same limits can share it
    instead of building three decoders each.
    """
    return JsonReader(max_depth, max_int_digits)


_reader = shared_reader


def loads(
    text: str,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_int_digits: int = DEFAULT_MAX_INT_DIGITS,
) -> Any:
    """Parse one JSON text that a peer sent.

    Args:
        text: the JSON text (``str``; anything else is rejected).
        max_depth: deepest allowed nesting of lists and objects.
        max_int_digits: longest allowed integer literal.

    Returns:
        The value, with JSON objects as ``dict`` and arrays as ``list``.

    Raises:
        RemoteProtocolError: on any failure (see the module docstring).
    """
    if not isinstance(text, str):
        raise _invalid("JSON text must be str")
    return _reader(max_depth, max_int_digits).parse(text)


def dumps(obj: Any) -> str:
    """Compact JSON (``separators=(",", ":")``) as ``JSON.stringify`` writes it.

    Non-ASCII characters are written as is; a string holding a lone surrogate
    is escaped as ``\\udXXX`` instead (what ``JSON.stringify`` does since
    ES2019), so the result always encodes as UTF-8.

    Raises:
        TypeError: a value JSON cannot represent (``bytes``, objects, ...).
        ValueError: ``NaN``/infinite floats or a circular reference.
    """
    text = _COMPACT.encode(obj)
    if not text.isascii() and _SURROGATE.search(text) is not None:
        text = _COMPACT_ASCII.encode(obj)
    return text
