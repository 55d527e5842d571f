"""Handler tables: which function runs for (namespace, event).

Three kinds of namespace keys, like Node's ``io.of(name | regex | fn)`` plus
python-socketio's catch-all:

- a static name (``'/chat'``): handlers are called ``fn(sid, *args)``;
- a dynamic parent, ``re.Pattern`` (matched with ``search``, like JavaScript's
  ``regex.test``) or ``callable(name, auth) -> bool``: one parent serves many
  child namespaces, so its handlers receive the child's name first,
  ``fn(namespace, sid, *args)``;
- the catch-all ``'*'``: also ``fn(namespace, sid, *args)``.

A ``'*'`` *event* handler receives the event name first (python-socketio):
``fn(event, sid, *args)`` or ``fn(event, namespace, sid, *args)``.

Lookups are plain dict accesses keyed by the client's strings; nothing here
turns client text into an attribute name (style principle 10).
Arity (does ``connect`` take ``auth``, does ``disconnect`` take ``reason``) is
inspected once, at registration.
"""
from __future__ import annotations

import inspect
import re
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

__all__ = ["HandlerSet", "Route", "Registry", "NamespaceKey", "accepts_positional"]

Pattern = type(re.compile(""))
NamespaceKey = Union[str, "re.Pattern[str]", Callable[[str, Any], bool]]


def accepts_positional(fn: Callable[..., Any], count: int) -> bool:
    """Whether ``fn`` can be called with ``count`` positional arguments."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: assume yes
        return True
    n = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return n >= count


class HandlerSet:
    """The handlers registered under one namespace key."""

    __slots__ = ("key", "multi", "events", "connect", "connect_auth", "disconnect", "disconnect_reason",
                 "ns_obj", "ns_events", "ns_trigger")

    def __init__(self, key: NamespaceKey, multi: bool) -> None:
        self.key = key
        self.multi = multi
        self.events: Dict[str, Callable[..., Any]] = {}
        self.connect: Optional[Callable[..., Any]] = None
        self.connect_auth = False
        self.disconnect: Optional[Callable[..., Any]] = None
        self.disconnect_reason = False
        self.ns_obj: Any = None
        self.ns_events: Dict[str, Callable[..., Any]] = {}
        self.ns_trigger: Optional[Callable[..., Any]] = None

    def set_handler(self, event: str, fn: Callable[..., Any]) -> None:
        prefix = 1 if self.multi else 0
        if event == "connect":
            self.connect = fn
            self.connect_auth = accepts_positional(fn, prefix + 3)
        elif event == "disconnect":
            self.disconnect = fn
            self.disconnect_reason = accepts_positional(fn, prefix + 2)
        else:
            self.events[event] = fn

    def set_namespace_object(self, obj: Any, handlers: Dict[str, Callable[..., Any]], trigger: Any) -> None:
        self.ns_obj = obj
        self.ns_events = handlers
        self.ns_trigger = trigger


class Route:
    """Everything needed to dispatch for one concrete namespace name.

    Built when a socket connects and reused for each of its events; ``gen`` tells
    the socket to rebuild it after new registrations.
    """

    __slots__ = ("name", "primary", "catchall", "connect_mw", "event_mw", "gen", "direct")

    def __init__(
        self,
        name: str,
        primary: Optional[HandlerSet],
        catchall: Optional[HandlerSet],
        connect_mw: List[Callable[..., Any]],
        event_mw: List[Callable[..., Any]],
        gen: int,
    ) -> None:
        self.name = name
        self.primary = primary
        self.catchall = catchall
        self.connect_mw = connect_mw
        self.event_mw = event_mw
        self.gen = gen
        #: event name -> handler called ``fn(sid, *args)``: the first lookup of
        #: :meth:`event_call` for a static namespace (None for a dynamic one)
        self.direct: Optional[Dict[str, Callable[..., Any]]] = (
            primary.events if primary is not None and not primary.multi else None)

    def event_call(self, event: str, sid: str, args: List[Any]) -> Optional[Tuple[Callable[..., Any], tuple]]:
        """The function and positional arguments for an event, or None when unhandled."""
        p = self.primary
        if p is not None:
            fn = p.events.get(event)
            if fn is not None:
                return (fn, (self.name, sid, *args)) if p.multi else (fn, (sid, *args))
            fn = p.events.get("*")
            if fn is not None:
                return (fn, (event, self.name, sid, *args)) if p.multi else (fn, (event, sid, *args))
            if p.ns_obj is not None and (event in p.ns_events or p.ns_trigger is not None):
                trigger = p.ns_obj.trigger_event
                return (trigger, (event, self.name, sid, *args)) if p.multi else (trigger, (event, sid, *args))
        c = self.catchall
        if c is not None:
            fn = c.events.get(event)
            if fn is not None:
                return fn, (self.name, sid, *args)
            fn = c.events.get("*")
            if fn is not None:
                return fn, (event, self.name, sid, *args)
            if c.ns_obj is not None and (event in c.ns_events or c.ns_trigger is not None):
                return c.ns_obj.trigger_event, (event, self.name, sid, *args)
        return None

    def _lifecycle(self, which: str) -> Optional[HandlerSet]:
        for hs in (self.primary, self.catchall):
            if hs is None:
                continue
            if getattr(hs, which) is not None:
                return hs
            if hs.ns_obj is not None and (which in hs.ns_events or hs.ns_trigger is not None):
                return hs
        return None

    def connect_call(self, sid: str, environ: dict, auth: Any) -> Optional[Tuple[Callable[..., Any], tuple]]:
        hs = self._lifecycle("connect")
        if hs is None:
            return None
        prefix: tuple = (self.name,) if hs.multi else ()
        if hs.connect is not None:
            fn = hs.connect
            take_auth = hs.connect_auth
        else:
            fn = hs.ns_obj.trigger_event
            handler = hs.ns_events.get("connect")
            take_auth = handler is None or accepts_positional(handler, len(prefix) + 3)
            prefix = ("connect",) + prefix
        if take_auth:
            return fn, (*prefix, sid, environ, auth)
        return fn, (*prefix, sid, environ)

    def disconnect_call(self, sid: str, reason: str) -> Optional[Tuple[Callable[..., Any], tuple]]:
        hs = self._lifecycle("disconnect")
        if hs is None:
            return None
        prefix: tuple = (self.name,) if hs.multi else ()
        if hs.disconnect is not None:
            fn = hs.disconnect
            take_reason = hs.disconnect_reason
        else:
            fn = hs.ns_obj.trigger_event
            handler = hs.ns_events.get("disconnect")
            take_reason = handler is None or accepts_positional(handler, len(prefix) + 2)
            prefix = ("disconnect",) + prefix
        if take_reason:
            return fn, (*prefix, sid, reason)
        return fn, (*prefix, sid)


class Registry:
    """All handler sets and middleware of a server, by namespace key."""

    def __init__(self) -> None:
        self.static: Dict[str, HandlerSet] = {}
        self.dynamic: List[HandlerSet] = []
        self.catchall: Optional[HandlerSet] = None
        # middleware: (key or None for every namespace, fn)
        self.connect_mw: List[Tuple[Optional[NamespaceKey], Callable[..., Any]]] = []
        self.event_mw: List[Tuple[Optional[NamespaceKey], Callable[..., Any]]] = []
        self.gen = 0

    def handler_set(self, key: NamespaceKey) -> HandlerSet:
        """The set for ``key``, created on first use."""
        self.gen += 1
        if isinstance(key, str):
            if key == "*":
                if self.catchall is None:
                    self.catchall = HandlerSet("*", True)
                return self.catchall
            if not key.startswith("/"):
                raise ValueError("a namespace name starts with '/'")
            hs = self.static.get(key)
            if hs is None:
                hs = self.static[key] = HandlerSet(key, False)
            return hs
        if isinstance(key, Pattern) or callable(key):
            for hs in self.dynamic:
                if hs.key is key:
                    return hs
            hs = HandlerSet(key, True)
            self.dynamic.append(hs)
            return hs
        raise TypeError("namespace must be a string, a compiled regular expression or a callable")

    def add_connect_middleware(self, key: Optional[NamespaceKey], fn: Callable[..., Any]) -> None:
        self._check_key(key)
        self.connect_mw.append((key, fn))
        self.gen += 1

    def add_event_middleware(self, key: Optional[NamespaceKey], fn: Callable[..., Any]) -> None:
        self._check_key(key)
        self.event_mw.append((key, fn))
        self.gen += 1

    @staticmethod
    def _check_key(key: Optional[NamespaceKey]) -> None:
        if key is None or isinstance(key, (str, Pattern)) or callable(key):
            return
        raise TypeError("namespace must be a string, a compiled regular expression or a callable")

    def has_handlers(self, name: str) -> bool:
        return name in self.static

    def match_dynamic(self, name: str, auth: Any) -> Optional[HandlerSet]:
        """The first dynamic parent that accepts ``name`` (registration order)."""
        for hs in self.dynamic:
            key = hs.key
            if isinstance(key, Pattern):
                if key.search(name):
                    return hs
            elif key(name, auth):
                return hs
        return None

    def route(self, name: str, primary: Optional[HandlerSet]) -> Route:
        """Build the route of a namespace name whose primary set is known."""
        parent_key = primary.key if primary is not None else None
        connect_mw = [fn for key, fn in self.connect_mw if key is None or key == "*" or key == name
                      or (parent_key is not None and key is parent_key)]
        event_mw = [fn for key, fn in self.event_mw if key is None or key == "*" or key == name
                    or (parent_key is not None and key is parent_key)]
        return Route(name, primary, self.catchall, connect_mw, event_mw, self.gen)

    def refresh(self, route: Route) -> Route:
        """A route rebuilt after registrations changed the tables."""
        primary = route.primary
        if primary is None or not primary.multi:
            primary = self.static.get(route.name, primary)
        return self.route(route.name, primary)
