"""A card's history as the ledger holds it: each change with who made it and where."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Join, Label, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import card_events, shop_locations, staff_members

# At most this many of a card's changes are shown, newest first.
HISTORY_LIMIT = 100


@dataclass(frozen=True)
class HistoryEntry:
    """One change of a card: what, when, by which actor, person and branch (names)."""

    id: int
    kind: str
    count: int
    at: datetime
    actor: str
    person: str | None
    branch: str | None


def with_names() -> tuple[Label[Any], Label[Any]]:
    """The person's and the branch's names of a ledger event (over `named_events`)."""
    person = staff_members.c.name.label("person")
    branch = func.coalesce(shop_locations.c.name, shop_locations.c.address).label("branch")
    return person, branch


def named_events(shop_id: int) -> Join:
    """card_events joined (outer) to the shop's people and branches: the ledger keeps their ids
    without foreign keys, and removed people stay (soft delete), so they are still named."""
    return card_events.outerjoin(
        staff_members,
        and_(staff_members.c.id == card_events.c.staff_id, staff_members.c.shop_id == shop_id),
    ).outerjoin(
        shop_locations,
        and_(shop_locations.c.id == card_events.c.branch_id, shop_locations.c.shop_id == shop_id),
    )


async def card_history(
    conn: AsyncConnection, shop_id: int, card_id: int, limit: int = HISTORY_LIMIT
) -> list[HistoryEntry]:
    """The card's ledger events, newest first, at most `limit`."""
    events = card_events.c
    query = (
        select(events.id, events.kind, events.count, events.created_at, events.actor)
        .add_columns(*with_names())
        .select_from(named_events(shop_id))
        .where(events.card_id == card_id, events.shop_id == shop_id)
        .order_by(events.id.desc())
        .limit(limit)
    )
    return [HistoryEntry(*row) for row in (await conn.execute(query)).all()]
