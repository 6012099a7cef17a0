"""Queries of the counter page: whether a counter is still signed in, the stamps it made,
and the branches it may stand in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.ledger import COUNTER_ACTOR
from passes.store.people import MANAGER_ROLE
from passes.store.sessions import COUNTER
from passes.store.tables import card_events, cards, sessions, staff_members

RECENT_STAMPS = 20


@dataclass(frozen=True)
class CounterStamp:
    """A stamp made through a counter page, as its screen lists it."""

    id: int
    at: datetime
    serial: str
    stamps_after: int


async def counter_open(
    conn: AsyncConnection, shop_id: int, staff_id: int, branch_id: int | None, now: datetime
) -> bool:
    """Whether a live counter session of this manager and branch exists: signing the
    counter out, or removing or demoting the manager, makes its codes worthless."""
    query = (
        select(sessions.c.token_hash)
        .select_from(sessions.join(staff_members, staff_members.c.id == sessions.c.staff_id))
        .where(
            sessions.c.shop_id == shop_id,
            sessions.c.kind == COUNTER,
            sessions.c.staff_id == staff_id,
            sessions.c.expires_at > now,
            staff_members.c.role == MANAGER_ROLE,
            staff_members.c.removed_at.is_(None),
            sessions.c.branch_id.is_(None)
            if branch_id is None
            else sessions.c.branch_id == branch_id,
        )
        .limit(1)
    )
    return (await conn.execute(query)).first() is not None


async def counter_stamps(
    conn: AsyncConnection,
    shop_id: int,
    staff_id: int,
    branch_id: int | None,
    *,
    after_id: int,
    since: datetime,
) -> list[CounterStamp]:
    """The newest stamps (at most RECENT_STAMPS, newest first) this counter made since
    `since` with an event id above `after_id`."""
    events = card_events.c
    query = (
        select(events.id, events.created_at, cards.c.serial, events.stamps_after)
        .select_from(card_events.join(cards, cards.c.id == events.card_id))
        .where(
            events.shop_id == shop_id,
            events.created_at >= since,
            events.id > after_id,
            events.kind == "stamp",
            events.actor == COUNTER_ACTOR,
            events.staff_id == staff_id,
            events.branch_id.is_(None) if branch_id is None else events.branch_id == branch_id,
        )
        .order_by(events.id.desc())
        .limit(RECENT_STAMPS)
    )
    return [CounterStamp(*row) for row in (await conn.execute(query)).all()]


async def has_counter(conn: AsyncConnection, shop_id: int, now: datetime) -> bool:
    """Whether a counter screen of the shop is signed in (the card page then offers to scan
    its code)."""
    query = select(sessions.c.token_hash).where(
        sessions.c.shop_id == shop_id,
        sessions.c.kind == COUNTER,
        sessions.c.expires_at > now,
    )
    return (await conn.execute(query.limit(1))).first() is not None
