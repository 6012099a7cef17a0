"""When each card's pass was last fetched, written behind: once a second for all of them.

A write per fetch made serving a pass a write transaction (on SQLite the one writer's lock),
for a time that only the deliveries report shows. Fetches are noted in memory and written
together a second later, and before the report is read (`flush`) and when the store closes.
A crash loses at most the last second's times, never anything a phone sees.

On PostgreSQL the write skips cards locked at that moment (a change in flight) instead of
waiting for them, so it never holds up a stamp or deadlocks with one; those cards wait for
the next write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
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
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import cards

FLUSH_SECONDS = 1.0
# Beyond this many waiting (the database down for long), the oldest are forgotten.
MAX_PENDING = 100_000

log = logging.getLogger("passes.store")


def _postgres_write() -> Update:
    """Set each card's time; skip (and return no id for) rows locked right now."""
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
        .returning(cards.c.id)
    )


POSTGRES_WRITE = _postgres_write()
SQLITE_WRITE = (
    update(cards).where(cards.c.id == bindparam("card_id")).values(last_fetched_at=bindparam("at"))
)


async def write_fetch_times(conn: AsyncConnection, times: dict[int, datetime]) -> set[int]:
    """Record the fetch times; the ids written (on PostgreSQL locked cards are left out)."""
    if conn.dialect.name == "postgresql":
        ids = sorted(times)
        found = await conn.execute(POSTGRES_WRITE, {"ids": ids, "times": [times[i] for i in ids]})
        return set(found.scalars())
    await conn.execute(SQLITE_WRITE, [{"card_id": i, "at": at} for i, at in times.items()])
    return set(times)


class FetchTimes:
    """Fetch times noted in memory and written together (see the module)."""

    def __init__(
        self,
        transaction: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
        delay: float = FLUSH_SECONDS,
    ) -> None:
        self._transaction = transaction
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
            async with self._transaction() as conn:
                written = await write_fetch_times(conn, times)
        except Exception as exc:  # the times are kept for the next try; serving goes on
            log.warning("fetch times not written, kept for later: %s", exc)
            written = set()
        left = {card: at for card, at in times.items() if card not in written}
        if left:
            self._keep(left)

    def _keep(self, left: dict[int, datetime]) -> None:
        for card, at in left.items():
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
                async with self._transaction() as conn:
                    await write_fetch_times(conn, times)
            except Exception as exc:  # closing must go on
                log.warning("fetch times of the last second not written: %s", exc)
