"""Cards as stored: the row, reading and locking it, the sweeps that pick cards to change.

A card changes only with its ledger (store/card_changes.py); the marks here are the few
columns that change alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from passes import loyalty, notices
from passes.errors import NotFound, UnknownCard
from passes.store.tables import cards

# A card's counters as stored (on the card, and after each ledger event) are exactly the
# rules' state of it: one type, so a change needs no conversion on its way in or out.
Counters = loyalty.CardState


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
    news: str | None = None
    referrer_id: int | None = None
    referral_rewarded: bool = False
    loyal_since: datetime | None = None
    notice: notices.Notice | None = None


_CARD_COLUMNS = tuple(cards.c)


class Row(Protocol):
    """A result row read by column name: SQLAlchemy's RowMapping or an asyncpg Record."""

    def __getitem__(self, key: str, /) -> Any: ...


def card_from(row: Row) -> CardRow:
    """A card from a row of its table's columns (SQLAlchemy mapping or asyncpg record)."""
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
            rewards_due=decode_dues(row["rewards_due"]),
            stamps_expired=row["stamps_expired"],
            rewards_expired=row["rewards_expired"],
            last_visit=row["last_visit_at"],
        ),
        version=row["version"],
        last_event_id=row["last_event_id"],
        pass_modified_at=row["pass_modified_at"],
        last_fetched_at=row["last_fetched_at"],
        news=row["news"],
        referrer_id=row["referrer_id"],
        referral_rewarded=row["referral_rewarded"],
        loyal_since=row["loyal_since"],
        notice=notices.decode(row["notice"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def encode_dues(dues: tuple[tuple[int, datetime | None], ...]) -> str | None:
    """Due rewards as stored: "at@epoch,..." (times already whole seconds), NULL for none."""
    return ",".join([f"{at}@{int(since.timestamp())}" for at, since in dues if since]) or None


def decode_dues(stored: str | None) -> tuple[tuple[int, datetime | None], ...]:
    """Stored due rewards back as (stamp count, since) pairs."""
    if not stored:
        return ()
    pairs = (item.split("@") for item in stored.split(","))
    return tuple((int(at), datetime.fromtimestamp(int(epoch), UTC)) for at, epoch in pairs)


def whole_second(moment: datetime) -> datetime:
    """HTTP dates have whole seconds; so does what we compare them with."""
    return moment.replace(microsecond=0)


_CARD_BY_SERIAL = select(*_CARD_COLUMNS).where(
    cards.c.shop_id == bindparam("shop_id"), cards.c.serial == bindparam("serial")
)


async def card_by_serial(conn: AsyncConnection, shop_id: int, serial: str) -> CardRow:
    """The shop's card `serial`; another shop's card is NotFound too."""
    found = await conn.execute(_CARD_BY_SERIAL, {"shop_id": shop_id, "serial": serial})
    row = found.mappings().first()
    if row is None:
        raise UnknownCard(serial)
    return card_from(row)


async def card_by_secret(conn: AsyncConnection, page_secret: str) -> CardRow:
    """The card whose page secret this is."""
    return await _one_card(conn, cards.c.page_secret == page_secret, NotFound("no such card"))


async def card_by_serial_any_shop(conn: AsyncConnection, serial: str) -> CardRow:
    """The card `serial`, whatever its shop (operator tools only)."""
    return await _one_card(conn, cards.c.serial == serial, UnknownCard(serial))


async def _one_card(
    conn: AsyncConnection, where: ColumnElement[bool], missing: NotFound
) -> CardRow:
    row = (await conn.execute(select(*_CARD_COLUMNS).where(where))).mappings().first()
    if row is None:
        raise missing
    return card_from(row)


_LOCK_CARD = _CARD_BY_SERIAL.with_for_update()


async def lock_card(conn: AsyncConnection, shop_id: int, serial: str) -> CardRow:
    """The card, locked until the transaction ends (SQLite's writer already holds the lock)."""
    found = await conn.execute(_LOCK_CARD, {"shop_id": shop_id, "serial": serial})
    row = found.mappings().first()
    if row is None:
        raise UnknownCard(serial)
    return card_from(row)


_LOCK_CARD_BY_ID = select(*_CARD_COLUMNS).where(cards.c.id == bindparam("id")).with_for_update()


async def lock_card_by_id(conn: AsyncConnection, card_id: int) -> CardRow:
    """The card with this id, locked until the transaction ends."""
    row = (await conn.execute(_LOCK_CARD_BY_ID, {"id": card_id})).mappings().first()
    if row is None:
        raise NotFound("no such card")
    return card_from(row)


async def lock_cards_by_id(conn: AsyncConnection, card_ids: Iterable[int]) -> dict[int, CardRow]:
    """The cards with these ids (those that exist), locked in id order until the transaction
    ends (one order for every locker: no deadlock between two of them)."""
    ids = sorted(set(card_ids))
    if not ids:
        return {}
    query = select(*_CARD_COLUMNS).where(cards.c.id.in_(ids)).order_by(cards.c.id)
    found = await conn.execute(query.with_for_update())
    return {row["id"]: card_from(row) for row in found.mappings()}


async def expiring_cards(
    conn: AsyncConnection,
    program_id: int,
    *,
    stamps_before: datetime | None,
    rewards_before: datetime | None,
    after_id: int,
    limit: int,
) -> list[CardRow]:
    """Cards of the program with stamps unvisited since `stamps_before` or rewards due since
    `rewards_before`, by id after `after_id`, locked; on PostgreSQL rows another worker
    holds are skipped (it is expiring them)."""
    due: list[ColumnElement[bool]] = []
    if stamps_before is not None:
        due.append((cards.c.stamps > 0) & (cards.c.last_visit_at <= stamps_before))
    if rewards_before is not None:
        due.append(cards.c.rewards_due_since <= rewards_before)
    if not due:
        return []
    query = (
        select(*_CARD_COLUMNS)
        .where(cards.c.program_id == program_id, cards.c.id > after_id, ~cards.c.voided)
        .where(or_(*due))
        .order_by(cards.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [card_from(row) for row in (await conn.execute(query)).mappings()]


async def mark_referral_rewarded(conn: AsyncConnection, card_id: int) -> None:
    """The referral bonus for this card has been given."""
    await conn.execute(update(cards).where(cards.c.id == card_id).values(referral_rewarded=True))


async def mark_long_standing(conn: AsyncConnection, card_id: int, now: datetime) -> bool:
    """The card is long-standing from now on; False when it already was (the bonus comes once)."""
    marked = await conn.execute(
        update(cards)
        .where(cards.c.id == card_id, cards.c.loyal_since.is_(None))
        .values(loyal_since=now)
    )
    return bool(marked.rowcount)


async def cards_for_goal(conn: AsyncConnection, shop_id: int, goal: int) -> list[CardRow]:
    """The shop's cards a new goal of `goal` stamps may change (stamps at or past it, or a
    reward due), locked in id order."""
    query = (
        select(*_CARD_COLUMNS)
        .where(cards.c.shop_id == shop_id, ~cards.c.voided)
        .where((cards.c.stamps >= goal) | (cards.c.rewards_available > 0))
        .order_by(cards.c.id)
        .with_for_update()
    )
    return [card_from(row) for row in (await conn.execute(query)).mappings()]
