"""Queries behind the dashboard's review list of unusual activity, each scoped to one shop:
cards stamped unusually often on one day, and the ledger rows behind an entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import card_events, cards, shop_locations, staff_members

# The most ledger rows one review link shows (a day of one card or one person).
MAX_ROWS = 500


@dataclass(frozen=True)
class BusyCard:
    """A card with more stamps on one day (UTC) than the shop's review threshold."""

    serial: str
    day: date
    stamps: int


@dataclass(frozen=True)
class LedgerLine:
    """One ledger row as the review's ledger page shows it."""

    id: int
    at: datetime
    serial: str
    kind: str
    count: int
    actor: str
    staff_id: int | None
    branch_id: int | None
    branch_name: str | None
    undone: bool


def _undone() -> ColumnElement[bool]:
    """Whether an undo names the ledger row."""
    undo = card_events.alias("undo")
    return select(undo.c.id).where(undo.c.undoes_event_id == card_events.c.id).exists()


def _utc_day(conn: AsyncConnection) -> ColumnElement[Any]:
    """The UTC calendar day of a ledger row (SQLite stores UTC text; PostgreSQL converts)."""
    if conn.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", card_events.c.created_at))
    return func.date(card_events.c.created_at)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def busy_cards(
    conn: AsyncConnection, shop_id: int, since: datetime, more_than: int
) -> list[BusyCard]:
    """The shop's cards with more than `more_than` stamps (not undone) on one day since
    `since`, latest day first, then the most stamped."""
    day = _utc_day(conn).label("day")
    stamps = func.sum(card_events.c.count).label("stamps")
    query = (
        select(cards.c.serial, day, stamps)
        .join_from(card_events, cards, cards.c.id == card_events.c.card_id)
        .where(
            card_events.c.shop_id == shop_id,
            card_events.c.created_at >= since,
            card_events.c.kind == "stamp",
            ~_undone(),
        )
        .group_by(cards.c.serial, day)
        .having(stamps > more_than)
    )
    found = [
        BusyCard(str(serial), _as_date(when), int(total))
        for serial, when, total in (await conn.execute(query)).all()
    ]
    return sorted(found, key=lambda card: (card.day, card.stamps), reverse=True)


async def ledger_lines(
    conn: AsyncConnection,
    shop_id: int,
    start: datetime,
    end: datetime,
    *,
    serial: str | None = None,
    staff_id: int | None = None,
) -> list[LedgerLine]:
    """The shop's ledger rows from `start` to before `end` of one card or one person, oldest
    first (at most MAX_ROWS), with the branch's name."""
    events = card_events.c
    branch = func.coalesce(shop_locations.c.name, shop_locations.c.address)
    whose = cards.c.serial == serial if serial is not None else events.staff_id == staff_id
    query = (
        select(
            events.id,
            events.created_at.label("at"),
            cards.c.serial,
            events.kind,
            events.count,
            events.actor,
            events.staff_id,
            events.branch_id,
            branch.label("branch_name"),
            _undone().label("undone"),
        )
        .join_from(card_events, cards, cards.c.id == events.card_id)
        .outerjoin(
            shop_locations,
            and_(shop_locations.c.id == events.branch_id, shop_locations.c.shop_id == shop_id),
        )
        .where(events.shop_id == shop_id, events.created_at >= start, events.created_at < end)
        .where(whose)
        .order_by(events.id)
        .limit(MAX_ROWS)
    )
    rows = (await conn.execute(query)).mappings().all()
    return [LedgerLine(**{**row, "undone": bool(row["undone"])}) for row in rows]


async def person_name(conn: AsyncConnection, shop_id: int, staff_id: int) -> str | None:
    """The name of the shop's person `staff_id` (removed people included), or None."""
    query = select(staff_members.c.name).where(
        staff_members.c.id == staff_id, staff_members.c.shop_id == shop_id
    )
    found = (await conn.execute(query)).scalar_one_or_none()
    return None if found is None else str(found)
