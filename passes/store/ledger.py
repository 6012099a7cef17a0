"""The ledger: the change a card's event records, and the events as read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, case, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from passes import notices
from passes.errors import NotFound
from passes.store.cards import Counters, Row, decode_dues
from passes.store.tables import UtcDateTime, card_events


@dataclass(frozen=True)
class Origin:
    """Who and where a change came from: the person (staff_members.id) and the branch
    (shop_locations.id); both None for the API key, the CLI and the shop's own rules."""

    staff_id: int | None = None
    branch_id: int | None = None


NO_ORIGIN = Origin()

# The actor of stamps a customer scanned at a counter page: they name the manager who opened
# the counter, but are not that person's own volume (staff_days).
COUNTER_ACTOR = "counter"


def counted_for(actor: str, staff_id: int | None) -> int | None:
    """The person whose stamps of the day (staff_days) a change counts in, if anyone's."""
    return None if actor == COUNTER_ACTOR else staff_id


@dataclass(frozen=True)
class Change:
    """One ledger entry to append: what happened, who did it, and the counters after."""

    kind: str
    count: int
    actor: str
    after: Counters
    idempotency_key: str | None = None
    undoes_event_id: int | None = None
    # A campaign message: shown on the pass as news, and sent to Google as a message.
    news: str | None = None
    campaign_id: int | None = None
    # What the phone announces (notices.py); None: nothing, the card keeps its last notice.
    notice: notices.Notice | None = None
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True)
class PastChange:
    """A change already in the ledger, with the card's version and time after it."""

    change: Change
    event_id: int
    version: int
    at: datetime


def past_change(row: Row, prefix: str = "") -> PastChange:
    """A ledger event (its columns, optionally prefixed) as the change it made."""
    counters = Counters(
        stamps=row[f"{prefix}stamps_after"],
        rewards_available=row[f"{prefix}rewards_after"],
        total_stamps=row[f"{prefix}total_after"],
        rewards_redeemed=row[f"{prefix}redeemed_after"],
        rewards_due=decode_dues(row[f"{prefix}rewards_due_after"]),
        stamps_expired=row[f"{prefix}stamps_expired_after"] or 0,
        rewards_expired=row[f"{prefix}rewards_expired_after"] or 0,
    )
    change = Change(
        row[f"{prefix}kind"],
        row[f"{prefix}count"],
        row[f"{prefix}actor"],
        counters,
        row[f"{prefix}idempotency_key"],
    )
    return PastChange(
        change, row[f"{prefix}id"], row[f"{prefix}version_after"], row[f"{prefix}created_at"]
    )


_CHANGE_BY_KEY = select(card_events).where(
    card_events.c.card_id == bindparam("card_id"),
    card_events.c.idempotency_key == bindparam("key"),
)


def stamped_since_query(card_id: Any, since: Any) -> Select[Any]:
    """The stamps given to a card since a moment, less those undone (for daily caps)."""
    events = card_events.c
    signed = case((events.kind == "undo", -events.count), else_=events.count)
    return select(func.coalesce(func.sum(signed), 0)).where(
        events.card_id == card_id,
        or_(events.kind == "stamp", events.kind == "undo"),
        events.created_at >= since,
    )


def last_stamp_query(card_id: Any, since: Any) -> Select[Any]:
    """The time of the card's latest stamp since a moment that was not undone (for the
    cooldown between stamps); NULL for none."""
    undo = card_events.alias("undo")
    undone = select(undo.c.id).where(undo.c.undoes_event_id == card_events.c.id).exists()
    return select(type_coerce(func.max(card_events.c.created_at), UtcDateTime())).where(
        card_events.c.card_id == card_id,
        card_events.c.kind == "stamp",
        card_events.c.created_at >= since,
        ~undone,
    )


async def last_stamp_since(conn: AsyncConnection, card_id: int, since: datetime) -> datetime | None:
    """When the card was last stamped since `since` (stamps undone left out), or None."""
    found = (await conn.execute(last_stamp_query(card_id, since))).scalar_one()
    return found if isinstance(found, datetime) else None


async def stamped_since(conn: AsyncConnection, card_id: int, since: datetime) -> int:
    """Stamps given to the card since `since`, less those undone."""
    return int((await conn.execute(stamped_since_query(card_id, since))).scalar_one())


async def change_by_key(
    conn: AsyncConnection, card_id: int, idempotency_key: str
) -> PastChange | None:
    """The change made earlier on this card with this Idempotency-Key, if any.

    Asked after lock_card in its own statement, so on PostgreSQL it sees a
    change that a concurrent retry committed while we waited for the lock.
    """
    found = await conn.execute(_CHANGE_BY_KEY, {"card_id": card_id, "key": idempotency_key})
    row = found.mappings().first()
    return None if row is None else past_change(row)


@dataclass(frozen=True)
class LedgerEntry:
    """One stored event, as far as undoing it needs."""

    id: int
    kind: str
    count: int
    created_at: datetime
    undone: bool
    # The person whose day it counts in (counted_for), None for the API, the CLI, the shared
    # PIN and counter pages.
    staff_id: int | None = None


def _entries(*where: ColumnElement[bool]) -> Select[Any]:
    """Ledger events with the id of the undo that names each (NULL: not undone)."""
    undo = card_events.alias("undo")
    return (
        select(card_events, undo.c.id.label("undo_id"))
        .outerjoin(undo, undo.c.undoes_event_id == card_events.c.id)
        .where(*where)
    )


def _entry(row: Row) -> LedgerEntry:
    return LedgerEntry(
        row["id"],
        row["kind"],
        row["count"],
        row["created_at"],
        row["undo_id"] is not None,
        counted_for(row["actor"], row["staff_id"]),
    )


async def ledger_entry(conn: AsyncConnection, card_id: int, event_id: int) -> LedgerEntry:
    """The card's event `event_id`, and whether an undo already names it."""
    query = _entries(card_events.c.id == event_id, card_events.c.card_id == card_id)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"no change {event_id} on this card")
    return _entry(row)


async def events_at(
    conn: AsyncConnection, card_id: int, at: datetime
) -> list[tuple[LedgerEntry, str]]:
    """The card's events of one moment (a stamp and the bonus it earned share it), with actors."""
    query = _entries(card_events.c.card_id == card_id, card_events.c.created_at == at)
    found = await conn.execute(query.order_by(card_events.c.id))
    return [(_entry(row), row["actor"]) for row in found.mappings()]
