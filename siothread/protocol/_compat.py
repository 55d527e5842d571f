"""Small helpers shared by the protocol modules (stdlib only)."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

T = TypeVar("T")

# ``slots=True`` exists from Python 3.10; on 3.9 the packets are frozen without slots.
_DATACLASS_KW: dict[str, Any] = {"frozen": True}
if sys.version_info >= (3, 10):
    _DATACLASS_KW["slots"] = True

if TYPE_CHECKING:  # tell type checkers that @frozen builds a (frozen) dataclass
    from typing_extensions import dataclass_transform
else:
    def dataclass_transform(**_: Any) -> Callable[[T], T]:
        return lambda fn: fn


@dataclass_transform(frozen_default=True)
def frozen(cls: type[T]) -> type[T]:
    """``@dataclass(frozen=True, slots=True)`` where the running Python supports slots."""
    wrap: Callable[[type[T]], type[T]] = dataclass(**_DATACLASS_KW)
    return wrap(cls)
