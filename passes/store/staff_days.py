"""What each person stamped a day (staff_days): counted in the stamp's own transaction, so a
per-person daily limit holds however many stamp at once, and read back for the review list."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import staff_days


async def count_stamps(
    conn: AsyncConnection,
    shop_id: int,
    staff_id: int,
    day: date,
    count: int,
    limit: int | None,
) -> bool:
    """Add `count` to the person's stamps of `day`, unless that would pass `limit` (None:
    no limit): False then, and nothing added. The row's lock (PostgreSQL) or the one
    writer (SQLite) makes two stamps at once count one after the other."""
    if limit is not None and count > limit:
        return False
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    within: ColumnElement[bool] | None = None
    if limit is not None:
        within = staff_days.c.stamps + count <= limit
    statement = (
        insert(staff_days)
        .values(staff_id=staff_id, day=day, shop_id=shop_id, stamps=count)
        .on_conflict_do_update(
            index_elements=[staff_days.c.staff_id, staff_days.c.day],
            set_={"stamps": staff_days.c.stamps + count},
            where=within,
        )
        .returning(staff_days.c.stamps)
    )
    return (await conn.execute(statement)).first() is not None


async def take_back(conn: AsyncConnection, staff_id: int, day: date, count: int) -> None:
    """An undone stamp no longer counts for the person who gave it (never below zero)."""
    # SQLite's two-argument max() is PostgreSQL's greatest().
    larger = func.max if conn.dialect.name == "sqlite" else func.greatest
    await conn.execute(
        update(staff_days)
        .where(staff_days.c.staff_id == staff_id, staff_days.c.day == day)
        .values(stamps=larger(staff_days.c.stamps - count, 0))
    )


async def stamps_by_day(
    conn: AsyncConnection, shop_id: int, since: date
) -> dict[tuple[int, date], int]:
    """The shop's people's stamps by (staff id, day), from `since` on."""
    query = select(staff_days.c.staff_id, staff_days.c.day, staff_days.c.stamps).where(
        staff_days.c.shop_id == shop_id, staff_days.c.day >= since, staff_days.c.stamps > 0
    )
    return {(int(row[0]), row[1]): int(row[2]) for row in (await conn.execute(query)).all()}
