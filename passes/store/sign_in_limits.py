"""Queries about sign-in tries: count one atomically, clear a device's, lift a shop's locks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import sign_in_limits as limits


@dataclass(frozen=True)
class Count:
    """One bucket after counting a try: tries in its window, when the window ends, and
    whether the bucket is a device that signed in before."""

    tries: int
    window_ends: datetime
    known: bool


async def count_try(
    conn: AsyncConnection, shop_id: int, bucket: str, now: datetime, new_window_ends: datetime
) -> Count:
    """Add one try to `bucket` and return its count, in one statement.

    An insert-or-update that reads the row it wrote, so tries made at the same moment in
    several processes each see their own number: never two the same, none lost. A window
    that has ended starts again with this try.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(limits).values(
        shop_id=shop_id, bucket=bucket, tries=1, window_ends=new_window_ends, known=False
    )
    ended = limits.c.window_ends <= now
    statement = statement.on_conflict_do_update(
        index_elements=[limits.c.shop_id, limits.c.bucket],
        set_={
            "tries": case((ended, 1), else_=limits.c.tries + 1),
            "window_ends": case(
                (ended, statement.excluded.window_ends), else_=limits.c.window_ends
            ),
        },
    ).returning(limits.c.tries, limits.c.window_ends, limits.c.known)
    row = (await conn.execute(statement)).one()
    return Count(row.tries, row.window_ends, bool(row.known))


async def signed_in(conn: AsyncConnection, shop_id: int, device: str) -> None:
    """A device signed in: its count starts afresh and it is known from now on."""
    await conn.execute(
        update(limits)
        .where(limits.c.shop_id == shop_id, limits.c.bucket == device)
        .values(tries=0, known=True)
    )


async def lift_locks(conn: AsyncConnection, shop_id: int) -> None:
    """Every count of the shop starts afresh (a new PIN); known devices stay known."""
    await conn.execute(update(limits).where(limits.c.shop_id == shop_id).values(tries=0))
