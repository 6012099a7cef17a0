"""Small in-process caches: what a process may remember for a while without asking again."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class TtlCache(Generic[T]):
    """A small map whose entries expire; the oldest goes when it is full."""

    def __init__(
        self, seconds: float, size: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.size = size
        self.clock = clock
        self._items: dict[str, tuple[float, T]] = {}

    def get(self, key: str) -> T | None:
        """The live value for `key`, if any."""
        found = self._items.get(key)
        if found is None or found[0] < self.clock():
            return None
        return found[1]

    def clear(self) -> None:
        """Forget everything."""
        self._items.clear()

    def drop(self, key: str) -> None:
        """Forget `key`."""
        self._items.pop(key, None)

    def put(self, key: str, value: T) -> None:
        """Remember `value` for a while."""
        self._items.pop(key, None)  # renewed: it goes last in line for eviction
        if len(self._items) >= self.size:
            del self._items[next(iter(self._items))]
        self._items[key] = (self.clock() + self.seconds, value)
