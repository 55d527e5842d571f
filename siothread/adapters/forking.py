"""One node per process: how the Redis adapters survive a fork.

A Redis adapter is a cluster *node*: a uid, a :class:`~siothread.adapters.redis_link.RedisLink`
(connections and greenlets) and the subscriptions of every namespace it serves.
A node is one process. When the application is created before a fork
(``siothread.serve(app, workers=N)``, gunicorn ``--preload``, a pre-forking
uWSGI), the adapter joined the cluster in the parent and every child gets a copy
of it, with the parent's sockets and greenlets: used from several processes, one
socket carries interleaved commands (a corrupted protocol stream), and the parent,
which serves no client, still counts as a node in ``server_count()``. The rule:

- :meth:`ForkSafeNode.release` leaves the cluster (the link closes, Redis drops
  its subscriptions) and keeps the adapter attached to its server. A pre-fork
  master calls it before forking (:func:`siothread.workerproc.release_before_fork`).
- :meth:`ForkSafeNode.initialize` in a process other than the one the adapter's
  link belongs to first drops the inherited link (:meth:`RedisLink.abandon`: its
  greenlets killed before they run here, its sockets closed in this process only,
  nothing sent to Redis, the parent undisturbed), then joins as a new node: a new
  uid, a new link, the subscriptions of every namespace it serves. Each worker
  calls it as soon as it starts (:func:`siothread.workerproc.install_worker_manager`).
  A node that left (:meth:`release`) joins again the same way.
"""
from __future__ import annotations

import os
import secrets
from typing import Any, Callable

from .redis_link import RedisLink

__all__ = ["ForkSafeNode"]


class ForkSafeNode:
    """Mixin for an adapter whose transport is ``self.link`` (a :class:`RedisLink`) and whose node id
    is ``self.uid``; it comes before the adapter's base class.

    The adapter provides ``_link_factory`` (makes a new link: called when the node
    joins again) and :meth:`_join` (subscribe, start the link); it may extend
    :meth:`_stop_background` (its own greenlets) and :meth:`_forget_node` (state
    tied to the old uid or link).
    """

    #: this adapter handles forks itself (``install_worker_manager`` leaves its uid alone)
    fork_safe = True

    link: RedisLink
    uid: str
    _link_factory: Callable[[], RedisLink]
    _requests: Any
    _acks: Any
    #: whether this adapter is (or, inherited from a parent process, was) a node of the cluster
    _in_cluster = False
    #: closed by the server's shutdown: it never joins again
    _shut_down = False

    @property
    def is_node(self) -> bool:
        """Whether this process is a node of the cluster through this adapter."""
        return self._in_cluster and self.link.pid == os.getpid()

    def initialize(self) -> None:
        """Join the cluster from this process (a no-op when already joined here)."""
        if self.is_node or self._shut_down:
            return
        if self._in_cluster:  # joined in the process this one was forked from
            self._stop_node()
        if self.link.started or self.link.pid != os.getpid():
            self.uid = secrets.token_hex(max(3, len(self.uid) // 2))
            self.link = self._link_factory()
            self._forget_node()
        self._in_cluster = True
        self._join()

    def release(self) -> None:
        """Leave the cluster and close the connections; :meth:`initialize` joins again as a new node."""
        if self._in_cluster:
            self._in_cluster = False
            self._stop_node()

    def close(self) -> None:
        self._shut_down = True
        self._in_cluster = False
        self._stop_node()
        super().close()  # type: ignore[misc]

    # ------------------------------------------------------------------ hooks
    def _join(self) -> None:
        raise NotImplementedError

    def _stop_node(self) -> None:
        """Stop being a node: pending requests end, the link closes (or, inherited, is abandoned)."""
        own = self.link.pid == os.getpid()
        if own and self._requests is not None:
            self._requests.cancel_all()
        if own and self._acks is not None:
            self._acks.clear()
        self._requests = self._acks = None
        self._stop_background(own)
        if own:
            self.link.close()
        else:
            self.link.abandon()

    def _stop_background(self, own: bool) -> None:
        """Stop the adapter's own greenlets (``own``: of this process, else inherited: kill at once)."""

    def _forget_node(self) -> None:
        """Forget what belonged to the previous node (a new uid and link are in place)."""

