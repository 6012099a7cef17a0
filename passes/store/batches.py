"""Natural batching: requests that arrive while earlier ones are in flight travel together.

An idle batcher runs a request at once, so a lone request waits for nothing; under
load, whatever queued up during the previous round trip goes in the next one. Fewer
round trips and commits per request is what lets one database serve many at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")


class Batcher(Generic[Req, Res]):
    """Hands queued requests to `run` in batches of up to `size`, `lanes` batches at a time.

    `run` answers a batch with one result per request, in order; if it raises,
    every request of that batch gets the exception.
    """

    def __init__(
        self,
        run: Callable[[Sequence[Req]], Awaitable[Sequence[Res]]],
        *,
        size: int,
        lanes: int,
    ) -> None:
        self._run = run
        self._size = size
        self._lanes = lanes
        self._busy = 0
        self._waiting: list[tuple[Req, asyncio.Future[Res]]] = []
        self._lanes_running: set[asyncio.Task[None]] = set()  # the loop keeps weak references

    async def __call__(self, request: Req) -> Res:
        """The result of `request`, run alone or with others."""
        answer: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, answer))
        if self._busy < self._lanes:
            self._busy += 1
            lane = asyncio.get_running_loop().create_task(self._drain())
            self._lanes_running.add(lane)
            lane.add_done_callback(self._lanes_running.discard)
        return await answer

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._size], self._waiting[self._size :]
                await self._answer(batch)
        finally:
            self._busy -= 1

    async def _answer(self, batch: list[tuple[Req, asyncio.Future[Res]]]) -> None:
        try:
            results = await self._run([request for request, _ in batch])
        except BaseException as exc:  # each waiting request hears of it, then it propagates
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, answer), result in zip(batch, results, strict=True):
            if not answer.done():
                answer.set_result(result)
