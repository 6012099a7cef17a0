"""Queries about cards and their ledger. Every change appends an event and moves the card."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, insert, literal_column, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.errors import NotFound
from passes.store.outbox import enqueue_updates
from passes.store.tables import card_events, cards


@dataclass(frozen=True)
class Counters:
    """A card's counters, as stored and as recorded after each event."""

    stamps: int
    rewards_available: int
    total_stamps: int
    rewards_redeemed: int
    voided: bool = False


@dataclass(frozen=True)
class CardRow:
    """A card as stored."""

    id: int
    shop_id: int
    program_id: int
    serial: str
    auth_token: str
    page_secret: str
    counters: Counters
    version: int
    last_event_id: int | None
    pass_modified_at: datetime
    last_fetched_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Change:
    """One ledger entry to append: what happened, who did it, and the counters after."""

    kind: str
    count: int
    actor: str
    after: Counters
    idempotency_key: str | None = None
    undoes_event_id: int | None = None


@dataclass(frozen=True)
class PastChange:
    """A change already in the ledger, with the card's version and time after it."""

    change: Change
    event_id: int
    version: int
    at: datetime


_CARD_COLUMNS = tuple(cards.c)


def _card(row: RowMapping) -> CardRow:
    return CardRow(
        id=row["id"],
        shop_id=row["shop_id"],
        program_id=row["program_id"],
        serial=row["serial"],
        auth_token=row["auth_token"],
        page_secret=row["page_secret"],
        counters=Counters(
            stamps=row["stamps"],
            rewards_available=row["rewards_available"],
            total_stamps=row["total_stamps"],
            rewards_redeemed=row["rewards_redeemed"],
            voided=row["voided"],
        ),
        version=row["version"],
        last_event_id=row["last_event_id"],
        pass_modified_at=row["pass_modified_at"],
        last_fetched_at=row["last_fetched_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _event_counters(row: RowMapping) -> Counters:
    return Counters(
        stamps=row["stamps_after"],
        rewards_available=row["rewards_after"],
        total_stamps=row["total_after"],
        rewards_redeemed=row["redeemed_after"],
    )


async def insert_card(
    conn: AsyncConnection,
    *,
    shop_id: int,
    program_id: int,
    serial: str,
    auth_token: str,
    page_secret: str,
    actor: str,
    now: datetime,
) -> CardRow:
    """Create a card and its `issue` ledger entry."""
    values = dict(
        shop_id=shop_id,
        program_id=program_id,
        serial=serial,
        auth_token=auth_token,
        page_secret=page_secret,
        stamps=0,
        rewards_available=0,
        total_stamps=0,
        rewards_redeemed=0,
        voided=False,
        version=1,
        pass_modified_at=whole_second(now),
        last_fetched_at=None,
        created_at=now,
        updated_at=now,
    )
    card_id = (await conn.execute(insert(cards).values(values).returning(cards.c.id))).scalar_one()
    issue = Change("issue", 0, actor, Counters(0, 0, 0, 0))
    event_id = await _append(conn, card_id, shop_id, issue, 1, now)
    await conn.execute(
        update(cards)
        .where(cards.c.id == card_id)
        .values(last_event_id=event_id, update_tag=update_tag(conn, event_id))
    )
    return _card({**values, "id": card_id, "last_event_id": event_id})  # type: ignore[arg-type]


def _by_serial(shop_id: int, serial: str) -> Select[tuple[object, ...]]:
    return select(*_CARD_COLUMNS).where(cards.c.shop_id == shop_id, cards.c.serial == serial)


async def card_by_serial(conn: AsyncConnection, shop_id: int, serial: str) -> CardRow:
    """The shop's card `serial`; another shop's card is NotFound too."""
    row = (await conn.execute(_by_serial(shop_id, serial))).mappings().first()
    if row is None:
        raise NotFound(f"no card {serial!r}")
    return _card(row)


async def card_by_secret(conn: AsyncConnection, page_secret: str) -> CardRow:
    """The card whose page secret this is."""
    return await _one_card(conn, cards.c.page_secret == page_secret, "no such card")


async def card_by_serial_any_shop(conn: AsyncConnection, serial: str) -> CardRow:
    """The card `serial`, whatever its shop (operator tools only)."""
    return await _one_card(conn, cards.c.serial == serial, f"no card {serial!r}")


async def _one_card(conn: AsyncConnection, where: ColumnElement[bool], missing: str) -> CardRow:
    row = (await conn.execute(select(*_CARD_COLUMNS).where(where))).mappings().first()
    if row is None:
        raise NotFound(missing)
    return _card(row)


async def lock_card(conn: AsyncConnection, shop_id: int, serial: str) -> CardRow:
    """The card, locked until the transaction ends (SQLite's writer already holds the lock)."""
    query = _by_serial(shop_id, serial).with_for_update()
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"no card {serial!r}")
    return _card(row)


async def change_by_key(
    conn: AsyncConnection, card_id: int, idempotency_key: str
) -> PastChange | None:
    """The change made earlier on this card with this Idempotency-Key, if any.

    Asked after lock_card in its own statement, so on PostgreSQL it sees a
    change that a concurrent retry committed while we waited for the lock.
    """
    query = select(card_events).where(
        card_events.c.card_id == card_id, card_events.c.idempotency_key == idempotency_key
    )
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        return None
    change = Change(row["kind"], row["count"], row["actor"], _event_counters(row), idempotency_key)
    return PastChange(change, row["id"], row["version_after"], row["created_at"])


@dataclass(frozen=True)
class LedgerEntry:
    """One stored event, as far as undoing it needs."""

    id: int
    kind: str
    count: int
    created_at: datetime
    undone: bool


async def ledger_entry(conn: AsyncConnection, card_id: int, event_id: int) -> LedgerEntry:
    """The card's event `event_id`, and whether an undo already names it."""
    undo = card_events.alias("undo")
    query = (
        select(card_events, undo.c.id.label("undo_id"))
        .outerjoin(undo, undo.c.undoes_event_id == card_events.c.id)
        .where(card_events.c.id == event_id, card_events.c.card_id == card_id)
    )
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"no change {event_id} on this card")
    return LedgerEntry(
        row["id"], row["kind"], row["count"], row["created_at"], row["undo_id"] is not None
    )


async def apply_change(
    conn: AsyncConnection, card: CardRow, change: Change, now: datetime
) -> CardRow:
    """Append `change` to the ledger, move the card and queue its pushes (one transaction)."""
    version = card.version + 1
    event_id = await _append(conn, card.id, card.shop_id, change, version, now)
    modified = max(whole_second(now), card.pass_modified_at + timedelta(seconds=1))
    after = change.after
    await conn.execute(
        update(cards)
        .where(cards.c.id == card.id)
        .values(
            stamps=after.stamps,
            rewards_available=after.rewards_available,
            total_stamps=after.total_stamps,
            rewards_redeemed=after.rewards_redeemed,
            voided=after.voided,
            version=version,
            last_event_id=event_id,
            update_tag=update_tag(conn, event_id),
            pass_modified_at=modified,
            updated_at=now,
        )
    )
    await enqueue_updates(conn, card.id, now)
    return replace(
        card,
        counters=after,
        version=version,
        last_event_id=event_id,
        pass_modified_at=modified,
        updated_at=now,
    )


def whole_second(moment: datetime) -> datetime:
    """HTTP dates have whole seconds; so does what we compare them with."""
    return moment.replace(microsecond=0)


def update_tag(conn: AsyncConnection, event_id: int) -> ColumnElement[int] | int:
    """The tag a wallet's "changed since" question compares against.

    SQLite runs one writer at a time, so ledger ids appear in commit order. On
    PostgreSQL they do not; there the writing transaction's id is used and the
    answer's horizon is the oldest still-running transaction (store/apple.py).
    """
    if conn.dialect.name == "postgresql":
        return literal_column("pg_current_xact_id()::text::bigint")
    return event_id


async def _append(
    conn: AsyncConnection, card_id: int, shop_id: int, change: Change, version: int, now: datetime
) -> int:
    after = change.after
    statement = (
        insert(card_events)
        .values(
            card_id=card_id,
            shop_id=shop_id,
            kind=change.kind,
            count=change.count,
            idempotency_key=change.idempotency_key,
            undoes_event_id=change.undoes_event_id,
            actor=change.actor,
            stamps_after=after.stamps,
            rewards_after=after.rewards_available,
            total_after=after.total_stamps,
            redeemed_after=after.rewards_redeemed,
            version_after=version,
            created_at=now,
        )
        .returning(card_events.c.id)
    )
    return int((await conn.execute(statement)).scalar_one())
