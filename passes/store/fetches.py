"""When each card's pass was last fetched, written behind: once a second for all of them.

A write per fetch made serving a pass a write transaction (on SQLite the one writer's lock),
for a time that only the deliveries report shows. Fetches are noted in memory and written
together a second later, and before the report is read (`flush`) and when the store closes.
A crash loses at most the last second's times, never anything a phone sees.

On PostgreSQL the write skips cards locked at that moment instead of waiting for them, so it
never holds up a stamp or deadlocks with one. Such a card is being changed right then, and
the push that change sends brings its phone back for the pass: that fetch is recorded.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import (
    TIMESTAMP,
    BigInteger,
    Update,
    any_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from passes.store.tables import cards

FLUSH_SECONDS = 1.0
# Beyond this many waiting (the database down for long), the oldest are forgotten.
MAX_PENDING = 100_000

log = logging.getLogger("passes.store")


def _postgres_write() -> Update:
    """Set each card's time, skipping rows locked right now."""
    ids = bindparam("ids", type_=ARRAY(BigInteger()))
    times = bindparam("times", type_=ARRAY(TIMESTAMP(timezone=True)))
    given = func.unnest(ids, times).table_valued("id", "at").render_derived(name="given")
    # In id order, as the batched stamp writes lock theirs (store/optimistic.py).
    free = (
        select(cards.c.id)
        .where(cards.c.id == any_(ids))
        .order_by(cards.c.id)
        .with_for_update(skip_locked=True, key_share=True)
        .cte("free")
    )
    return (
        update(cards)
        .where(cards.c.id == free.c.id, cards.c.id == given.c.id)
        .values(last_fetched_at=given.c.at)
    )


POSTGRES_WRITE = _postgres_write()
SQLITE_WRITE = (
    update(cards).where(cards.c.id == bindparam("card_id")).values(last_fetched_at=bindparam("at"))
)


async def write_fetch_times(conn: AsyncConnection, times: dict[int, datetime]) -> None:
    """Record the fetch times (on PostgreSQL, of the cards not locked right now)."""
    if conn.dialect.name == "postgresql":
        ids = sorted(times)
        await conn.execute(POSTGRES_WRITE, {"ids": ids, "times": [times[i] for i in ids]})
        return
    await conn.execute(SQLITE_WRITE, [{"card_id": i, "at": at} for i, at in times.items()])


class FetchTimes:
    """Fetch times noted in memory and written together (see the module)."""

    def __init__(self, writer: AsyncEngine, delay: float = FLUSH_SECONDS) -> None:
        self._writer = writer
        self._delay = delay
        self._pending: dict[int, datetime] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._writing: set[asyncio.Task[None]] = set()

    def note(self, card_id: int, at: datetime) -> None:
        """The card's pass was fetched at `at`; written within about `delay` seconds."""
        self._pending[card_id] = at
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay, self._write_soon)

    def _write_soon(self) -> None:
        self._timer = None
        task = asyncio.create_task(self.flush())
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def flush(self) -> None:
        """Write what has been noted so far."""
        times, self._pending = self._pending, {}
        if not times:
            return
        try:
            await self._write(times)
        except Exception as exc:  # the times are kept for the next try; serving goes on
            log.warning("fetch times not written, kept for later: %s", exc)
            self._keep(times)

    def _keep(self, times: dict[int, datetime]) -> None:
        for card, at in times.items():
            self._pending.setdefault(card, at)  # a newer fetch noted meanwhile wins
        while len(self._pending) > MAX_PENDING:
            del self._pending[next(iter(self._pending))]
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._delay, self._write_soon)

    async def close(self) -> None:
        """Write what is left; no timer stays behind."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)
        times, self._pending = self._pending, {}
        if times:
            try:
                await self._write(times)
            except Exception as exc:  # closing must go on
                log.warning("fetch times of the last second not written: %s", exc)

    async def _write(self, times: dict[int, datetime]) -> None:
        if self._writer.dialect.name != "postgresql":
            async with self._writer.begin() as conn:
                await write_fetch_times(conn, times)
            return
        # One statement, its own transaction: a transaction open across round trips would
        # hold back the update tags phones ask with (store/apple.py, serials_since).
        async with self._writer.connect() as conn:
            single = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await write_fetch_times(single, times)
