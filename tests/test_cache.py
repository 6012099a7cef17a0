"""passes.cache.TtlCache: what a process remembers, and one load for many callers at once."""

from __future__ import annotations

import asyncio

import pytest

from passes.cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_callers_that_miss_together_share_one_load() -> None:
    clock, loads = Clock(), []
    cache: TtlCache[str] = TtlCache(30, 10, clock)

    async def load() -> str:
        loads.append(1)
        await asyncio.sleep(0.01)
        return f"value {len(loads)}"

    first = await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(50)))
    assert first == ["value 1"] * 50 and len(loads) == 1
    assert await cache.get_or_load("k", load) == "value 1", "remembered"
    clock.now = 31
    again = await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(50)))
    assert again == ["value 2"] * 50 and len(loads) == 2, "expired: loaded once more"


async def test_a_failed_load_reaches_every_caller_and_is_not_remembered() -> None:
    cache: TtlCache[str] = TtlCache(30, 10)
    calls = []

    async def refuse() -> str:
        calls.append(1)
        await asyncio.sleep(0.01)
        raise LookupError("unknown")

    results = await asyncio.gather(
        *(cache.get_or_load("k", refuse) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(result, LookupError) for result in results) and len(calls) == 1
    with pytest.raises(LookupError):
        await cache.get_or_load("k", refuse)
    assert len(calls) == 2, "a refusal is asked again next time"


async def test_a_caller_giving_up_does_not_cancel_the_others_load() -> None:
    cache: TtlCache[str] = TtlCache(30, 10)

    async def slow() -> str:
        await asyncio.sleep(0.05)
        return "value"

    impatient = asyncio.create_task(cache.get_or_load("k", slow))
    patient = asyncio.create_task(cache.get_or_load("k", slow))
    await asyncio.sleep(0.01)
    impatient.cancel()
    assert await patient == "value"
    assert cache.get("k") == "value"
