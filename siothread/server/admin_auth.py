"""Who may open the Admin UI: the credentials check of :meth:`Server.instrument`.

Like ``@socket.io/admin-ui``'s ``auth: {type: "basic", username, password}``,
the password is stored as a **bcrypt hash** (``bcrypt.hashpw(b"...",
bcrypt.gensalt())``; the ``bcrypt`` package, ``pip install siothread[admin]``),
never in clear text in the application's configuration. A plain-text password
is refused unless ``allow_plain_password=True`` says it is meant (a local
development set-up); it is then compared in constant time.

A bcrypt check takes a few hundred milliseconds of CPU on purpose. It runs on
gevent's thread pool (bcrypt releases the GIL), at most two at a time, so a
flood of wrong logins slows down only the logins, never the other connections.
"""
from __future__ import annotations

import hmac
from typing import Any, Callable, Dict, List, Optional

__all__ = ["CredentialsCheck", "is_bcrypt_hash"]

_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_MAX_FIELD = 1024  # bytes of a username/password a client may send (bcrypt reads 72)
_CONCURRENT_HASHES = 2


def is_bcrypt_hash(value: Any) -> bool:
    """Whether ``value`` looks like a bcrypt hash (``$2b$12$`` + 53 characters)."""
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return False
    return isinstance(value, str) and value.startswith(_BCRYPT_PREFIXES) and len(value) == 60


def _bcrypt() -> Any:
    try:
        import bcrypt
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportError("a bcrypt password hash needs the bcrypt package: pip install siothread[admin]") from None
    return bcrypt


class CredentialsCheck:
    """``check(given) -> bool`` for one ``auth`` option of :meth:`Server.instrument`.

    ``auth`` is a dict ``{"username": ..., "password": <bcrypt hash>}`` (a
    ``"type": "basic"`` key, as in Node's option, is accepted and ignored), a
    list of such dicts, or ``callable(given) -> bool``. Keys other than
    ``password`` must match exactly.

    Raises:
        ValueError: a password is not a bcrypt hash and ``allow_plain_password`` is False,
            or a hash is malformed.
        ImportError: a hash is given and ``bcrypt`` is not installed.
    """

    def __init__(self, auth: Any, *, allow_plain_password: bool = False, runtime: Any = None) -> None:
        self.runtime = runtime
        self._callable: Optional[Callable[[Dict[str, Any]], Any]] = None
        self._entries: List[Dict[str, Any]] = []
        self._gate: Any = None  # made at the first check: the runtime may be decided at first use
        if callable(auth) and not isinstance(auth, (dict, list)):
            self._callable = auth
            return
        entries = auth if isinstance(auth, list) else [auth]
        for expected in entries:
            if not isinstance(expected, dict) or not expected:
                raise TypeError("each credentials entry must be a non-empty dict such as "
                                "{'username': 'admin', 'password': bcrypt_hash}")
            entry = {k: v for k, v in expected.items() if k != "type"}
            if not all(isinstance(k, str) and isinstance(v, (str, bytes)) for k, v in entry.items()):
                raise TypeError("credentials keys and values must be strings")
            password = entry.get("password")
            if password is not None:
                if is_bcrypt_hash(password):
                    bcrypt = _bcrypt()
                    hashed = password.encode("ascii") if isinstance(password, str) else password
                    try:
                        bcrypt.checkpw(b"", hashed)
                    except ValueError:
                        raise ValueError("the password is not a valid bcrypt hash") from None
                    entry["password"] = hashed
                elif not allow_plain_password:
                    raise ValueError("the admin password must be a bcrypt hash (bcrypt.hashpw(password, "
                                     "bcrypt.gensalt())); pass allow_plain_password=True to compare plain text")
                else:
                    entry["password"] = password if isinstance(password, str) else password.decode()
            self._entries.append(entry)

    def __call__(self, given: Dict[str, Any]) -> bool:
        if self._callable is not None:
            return bool(self._callable(given))
        for expected in self._entries:
            if self._matches(expected, given):
                return True
        return False

    def _matches(self, expected: Dict[str, Any], given: Dict[str, Any]) -> bool:
        for key, want in expected.items():
            value = given.get(key)
            if not isinstance(value, str) or len(value) > _MAX_FIELD:
                return False
            if key == "password" and isinstance(want, bytes):
                if not self._bcrypt_ok(value.encode("utf-8"), want):
                    return False
            elif not hmac.compare_digest(value.encode("utf-8"), want.encode("utf-8")):
                return False
        return True

    def _bcrypt_ok(self, password: bytes, hashed: bytes) -> bool:
        checkpw = _bcrypt().checkpw
        try:
            if self.runtime is None:
                return bool(checkpw(password, hashed))
            if self._gate is None:
                self._gate = self.runtime.Semaphore(_CONCURRENT_HASHES)
            with self._gate:
                return bool(self.runtime.run_in_thread(checkpw, password, hashed))
        except ValueError:  # bcrypt >= 5 refuses passwords over 72 bytes
            return False
