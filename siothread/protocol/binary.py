"""Binary attachments of Socket.IO packets: placeholders out, buffers back in (pure).

Spec: socket.io-protocol v5 "Packet encoding" (BINARY_EVENT / BINARY_ACK).
The JSON text of a binary packet carries ``{"_placeholder":true,"num":i}`` where
the i-th binary attachment goes; the attachments follow as separate binary
messages. The traversal order and the placeholder shape are those of
socket.io-parser ``lib/binary.ts`` (``deconstructPacket`` /
``reconstructPacket``): depth first, list items in order, dict values in
insertion order, so a Node peer numbers the buffers exactly as we do.

Reconstruction is strict where Node was exploitable: a placeholder must be
exactly ``{"_placeholder": true, "num": n}`` with ``n`` an ``int`` (not a
``bool``) in ``range(len(attachments))`` (CVE-2022-2421: ``"num":"splice"``
resolved to a function in JavaScript; python-socketio accepted ``-1``, gap G5).
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple, Union

from ..errors import RemoteProtocolError, peer_error

__all__ = [
    "PLACEHOLDER_KEY",
    "has_binary",
    "deconstruct",
    "reconstruct",
    "locate_placeholders",
    "fill_placeholders",
]

PLACEHOLDER_KEY = "_placeholder"

_BINARY_TYPES = (bytes, bytearray, memoryview)

Container = Union[List[Any], Dict[str, Any]]
#: Where one placeholder sits: ``container[key]`` is replaced by attachment ``num``.
Slot = Tuple[Container, Union[int, str], int]


def _bad(message: str) -> RemoteProtocolError:
    return peer_error(message)


def has_binary(data: Any) -> bool:
    """Whether ``data`` holds ``bytes``/``bytearray``/``memoryview`` at any depth.

    Looks inside lists, tuples and dict values (socket.io-parser
    ``is-binary.ts`` ``hasBinary``). Iterative, so depth is no concern.
    """
    stack = [data]
    pop = stack.pop
    push = stack.extend
    while stack:
        item = pop()
        if isinstance(item, _BINARY_TYPES):
            return True
        if isinstance(item, (list, tuple)):
            push(item)
        elif isinstance(item, dict):
            push(item.values())
    return False


def deconstruct(data: Any) -> Tuple[Any, List[bytes]]:
    """Replace every binary value in ``data`` by a numbered placeholder.

    Args:
        data: a JSON-like value (lists, tuples, dicts, scalars) that may hold
            ``bytes``, ``bytearray`` or ``memoryview`` values anywhere.

    Returns:
        ``(new_data, attachments)``: a copy of ``data`` (tuples become lists)
        with ``{"_placeholder": True, "num": i}`` in place of the i-th binary
        value met depth first, and the binary values as ``bytes`` (mutable
        buffers are copied so later changes cannot alter what is sent).
        ``data`` itself is not modified.
    """
    attachments: List[bytes] = []

    def walk(item: Any) -> Any:
        if isinstance(item, _BINARY_TYPES):
            placeholder = {PLACEHOLDER_KEY: True, "num": len(attachments)}
            attachments.append(item if type(item) is bytes else bytes(item))
            return placeholder
        if isinstance(item, (list, tuple)):
            return [walk(x) for x in item]
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        return item

    return walk(data), attachments


def _placeholder_index(obj: Dict[str, Any], count: int) -> int:
    # Exactly two keys: anything else claiming to be a placeholder is an attack
    # or a bug on the other side (C5 rows "_placeholder":"true", num "splice"...).
    if len(obj) != 2 or obj.get(PLACEHOLDER_KEY) is not True:
        raise _bad("invalid attachment placeholder")
    num = obj.get("num")
    if type(num) is not int:
        raise _bad("invalid attachment placeholder index")
    if not 0 <= num < count:
        raise _bad("attachment placeholder index out of range")
    return num


def locate_placeholders(data: Any, count: int) -> List[Slot]:
    """Validate every placeholder of a decoded packet and say where each one is.

    Args:
        data: freshly decoded JSON (lists and dicts only; a tree).
        count: the number of attachments the packet announced.

    Returns:
        One ``(container, key, num)`` slot per placeholder. The decoder keeps
        these while the attachments arrive, then calls
        :func:`fill_placeholders`; no second walk is needed.

    Raises:
        RemoteProtocolError: a dict with a ``"_placeholder"`` key that is not
            exactly a valid placeholder, or an index outside ``range(count)``.
            A top-level placeholder is rejected as well (packet data is an
            array).
    """
    if isinstance(data, dict) and PLACEHOLDER_KEY in data:
        raise _bad("packet data cannot be a placeholder")
    slots: List[Slot] = []
    stack: List[Container] = [data] if isinstance(data, (list, dict)) else []
    while stack:
        container = stack.pop()
        items = enumerate(container) if type(container) is list else container.items()
        for key, value in items:
            vtype = type(value)
            if vtype is dict:
                if PLACEHOLDER_KEY in value:
                    slots.append((container, key, _placeholder_index(value, count)))
                else:
                    stack.append(value)
            elif vtype is list:
                stack.append(value)
    return slots


def fill_placeholders(slots: Sequence[Slot], attachments: Sequence[bytes]) -> None:
    """Put the attachments into the slots found by :func:`locate_placeholders` (in place)."""
    for container, key, num in slots:
        container[key] = attachments[num]  # type: ignore[index]


def reconstruct(data: Any, attachments: Sequence[bytes]) -> Any:
    """Replace the placeholders in ``data`` by their attachments.

    Args:
        data: a decoded JSON value holding placeholders.
        attachments: the binary attachments, in the order received.

    Returns:
        A copy of ``data`` with every placeholder replaced; ``data`` is not
        modified. Unused attachments are allowed (socket.io-parser allows
        them too); every placeholder must resolve.

    Raises:
        RemoteProtocolError: a dict with a ``"_placeholder"`` key that is not
            exactly a valid placeholder, or an index outside
            ``range(len(attachments))``. Unlike :func:`locate_placeholders`,
            ``data`` may itself be a placeholder.
    """
    root: List[Any] = [data]
    stack: List[Container] = [root]
    count = len(attachments)
    while stack:
        container = stack.pop()
        keys = range(len(container)) if type(container) is list else list(container)
        for key in keys:
            value = container[key]  # type: ignore[index]
            if isinstance(value, dict):
                if PLACEHOLDER_KEY in value:
                    container[key] = bytes(attachments[_placeholder_index(value, count)])  # type: ignore[index]
                    continue
                copy: Container = dict(value)
            elif isinstance(value, (list, tuple)):
                copy = list(value)
            else:
                continue
            container[key] = copy  # type: ignore[index]
            stack.append(copy)
    return root[0]
