"""Small in-process caches: what a process may remember for a while without asking again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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
        self._loading: dict[str, asyncio.Task[T]] = {}

    def get(self, key: str) -> T | None:
        """The live value for `key`, if any."""
        found = self._items.get(key)
        # Expired at its deadline: an entry kept for 0 seconds is never served.
        if found is None or found[0] <= self.clock():
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

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """The live value for `key`, else what `load` gives, remembered.

        Callers that miss at the same moment share one load: when an entry every request
        needs expired under load, fifty requests asked the database at once and stalled
        the server for ~90 ms. A caller that gives up does not cancel the others' load.
        """
        found = self.get(key)
        if found is not None:
            return found
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load(key, load))
            self._loading[key] = loading
        return await asyncio.shield(loading)

    async def _load(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        try:
            value = await load()
            self.put(key, value)
            return value
        finally:
            del self._loading[key]
