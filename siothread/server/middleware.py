"""Hooks around handlers: the three middleware chains of :class:`~siothread.server.Server`.

1. **Connect chain** (``sio.use(fn, namespace=None)``), Node's ``io.use`` /
   ``nsp.use``: ``fn(sid, environ, auth)`` runs before the ``connect`` handler,
   in registration order. Returning ``False`` or raising
   :class:`~siothread.errors.ConnectionRefusedError` refuses the connection (the
   client gets CONNECT_ERROR ``{message, data}``). ``namespace=None`` (or
   ``'*'``) applies to every namespace; a name or a dynamic parent (regex or
   callable) restricts it. The socket already exists, so ``save_session`` and
   ``enter_room`` work here.

2. **Event chain** (``sio.use_event(fn, namespace=None)``), Node's
   ``socket.use``: ``fn(sid, event, args)`` runs before each incoming event's
   handler. Return None to go on unchanged, a list or tuple to replace the
   arguments, or ``False`` to drop the event (no handler, no ack). An exception
   is logged and drops the event.

3. **Around/after hooks**, for every handler (``connect``, ``disconnect`` and
   events, errors included):

   - ``sio.around(fn)``: ``fn(call, info)`` wraps the handler; ``call()`` runs the
     next layer and returns the handler's result, which ``fn`` returns (it may
     replace it, catch an exception and return a fallback ack, or push a context).
     The first registered hook is the outermost.
   - ``sio.after_event(fn)``: ``fn(info, error)`` runs after the handler
     returned or raised (``error`` is the exception or None): the teardown hook
     (release a database session, close a span).

   ``info`` is a :class:`HandlerInfo` with ``sid``, ``namespace``, ``event``
   and ``args``. When no hook is registered the dispatch path has no extra cost.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, List, Optional, Tuple

__all__ = ["HandlerInfo", "AroundHook", "AfterHook", "ConnectMiddleware", "EventMiddleware", "run_hooked"]


class HandlerInfo:
    """What is being handled: passed to around/after hooks."""

    __slots__ = ("sid", "namespace", "event", "args")

    def __init__(self, sid: str, namespace: str, event: str, args: Tuple[Any, ...]) -> None:
        self.sid = sid
        self.namespace = namespace
        self.event = event
        self.args = args

    def __repr__(self) -> str:
        return f"HandlerInfo(sid={self.sid!r}, namespace={self.namespace!r}, event={self.event!r})"


AroundHook = Callable[[Callable[[], Any], HandlerInfo], Any]
AfterHook = Callable[[HandlerInfo, "BaseException | None"], None]
ConnectMiddleware = Callable[[str, dict, dict], Any]
EventMiddleware = Callable[[str, str, list], Any]


def run_hooked(around: List[AroundHook], after: List[AfterHook], logger: logging.Logger, info: HandlerInfo,
               fn: Callable[..., Any], args: Tuple[Any, ...]) -> Any:
    """Run ``fn(*args)`` inside the around hooks (the first registered outermost), then every after hook.

    The handler's exception propagates, after the after hooks saw it; an after hook's
    own exception is logged.
    """
    def innermost() -> Any:
        return fn(*args)

    call: Callable[[], Any] = innermost
    for hook in reversed(around):
        call = (lambda h, nxt: (lambda: h(nxt, info)))(hook, call)
    error: Optional[BaseException] = None
    try:
        return call()
    except BaseException as exc:
        error = exc
        raise
    finally:
        for hook_after in after:
            try:
                hook_after(info, error)
            except Exception as exc:
                logger.error("error in an after_event hook (event %r, sid %s)", info.event, info.sid, exc_info=exc)
