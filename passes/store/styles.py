"""Which strip looks the shops' programs use: the public image routes draw only those.

Colours are compared as "#RRGGBB" in upper case, the form programs store (program.check_colour).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.db import Store
from passes.store.shops import decode_tiers
from passes.store.tables import programs

REMEMBERED = 1024


async def strip_in_use(
    conn: AsyncConnection, background: str, stamp: str, required: int, tiers: tuple[int, ...]
) -> bool:
    """Some program draws its strip with these colours, stamps per reward and tier counts."""
    found = await conn.execute(
        select(programs.c.tiers).where(
            func.upper(programs.c.background_color) == background.upper(),
            func.upper(programs.c.stamp_color) == stamp.upper(),
            programs.c.stamps_required == required,
        )
    )
    return any(tuple(at for at, _ in decode_tiers(row.tiers)) == tiers for row in found)


async def background_in_use(conn: AsyncConnection, background: str) -> bool:
    """Some program has this background colour."""
    found = await conn.execute(
        select(programs.c.id)
        .where(func.upper(programs.c.background_color) == background.upper())
        .limit(1)
    )
    return found.first() is not None


class StylesInUse:
    """Asks the database whether a look is in use, and remembers those that are: a picture of
    a look once in use is harmless to serve again (its URL names all it shows)."""

    def __init__(self, store: Store, remembered: int = REMEMBERED) -> None:
        self.store = store
        self.remembered = remembered
        self._known: OrderedDict[Hashable, None] = OrderedDict()

    async def strip(
        self, background: str, stamp: str, required: int, tiers: tuple[int, ...]
    ) -> bool:
        """The strip look is some program's (see strip_in_use)."""
        key = ("strip", background.upper(), stamp.upper(), required, tiers)

        async def ask(conn: AsyncConnection) -> bool:
            return await strip_in_use(conn, background, stamp, required, tiers)

        return await self._ask(key, ask)

    async def background(self, background: str) -> bool:
        """The background colour is some program's."""
        key = ("background", background.upper())

        async def ask(conn: AsyncConnection) -> bool:
            return await background_in_use(conn, background)

        return await self._ask(key, ask)

    async def _ask(self, key: Hashable, ask: Callable[[AsyncConnection], Awaitable[bool]]) -> bool:
        if key in self._known:
            self._known.move_to_end(key)
            return True
        async with self.store.reading() as conn:
            in_use = await ask(conn)
        if in_use:
            self._known[key] = None
            while len(self._known) > self.remembered:
                self._known.popitem(last=False)
        return in_use
