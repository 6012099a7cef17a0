"""Natural batching: requests that arrive while earlier ones are in flight travel together.

An idle batcher runs a request at once, so a lone request waits for nothing; under
load, whatever queued up during the previous round trip goes in the next one. Fewer
round trips and commits per request is what lets one database serve many at once.

One batch is in flight at a time as long as that keeps up: starting another at every
arrival (we did) made many batches of one or two, and the statements, not the rows,
are what cost. Another lane opens when a full batch waits, or when the batch in flight
has run longer than `patience` (waiting on a row lock, say), so a slow statement holds
up the others for that long at most.
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
        patience: float,
    ) -> None:
        self._run = run
        self._size = size
        self._lanes = lanes
        self._patience = patience
        self._busy = 0
        self._prompt = 0  # lanes whose batch has not been in flight for `patience` yet
        self._waiting: list[tuple[Req, asyncio.Future[Res]]] = []
        self._lanes_running: set[asyncio.Task[None]] = set()  # the loop keeps weak references

    async def __call__(self, request: Req) -> Res:
        """The result of `request`, run alone or with others."""
        answer: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, answer))
        if self._prompt == 0 or len(self._waiting) >= self._size:
            self._open_lane()  # idle, or every batch in flight is slow, or a full batch waits
        return await answer

    def _open_lane(self) -> None:
        if self._busy >= self._lanes or not self._waiting:
            return
        self._busy += 1
        self._prompt += 1
        lane = asyncio.get_running_loop().create_task(self._drain())
        self._lanes_running.add(lane)
        lane.add_done_callback(self._lanes_running.discard)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._size], self._waiting[self._size :]
                late = False

                def slow() -> None:
                    nonlocal late
                    late, self._prompt = True, self._prompt - 1
                    self._open_lane()

                timer = loop.call_later(self._patience, slow)
                try:
                    await self._answer(batch)
                finally:
                    if late:
                        self._prompt += 1
                    else:
                        timer.cancel()
        finally:
            self._busy -= 1
            self._prompt -= 1

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
