"""Paper cards written in bulk: the cards, their `issue` and `import` ledger events, the shop's
ids of them and their Google objects, a few statements for a thousand cards."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.card_changes import PG_TAG
from passes.store.cards import whole_second
from passes.store.tables import card_events, card_imports, cards, google_objects, push_outbox


@dataclass(frozen=True)
class NewCard:
    """A card to create for one row: the shop's id of the paper card, its stamps, and the
    card's serial and secrets (made by the caller)."""

    row_id: str
    stamps: int
    serial: str
    auth_token: str
    page_secret: str


@dataclass(frozen=True)
class ImportedCard:
    """A card made by an import, found by the shop's id of its paper card."""

    row_id: str
    serial: str
    page_secret: str
    imported_at: datetime


async def imported_cards(
    conn: AsyncConnection, shop_id: int, row_ids: Sequence[str]
) -> dict[str, ImportedCard]:
    """The shop's cards imported before under any of these row ids."""
    # All of the shop's imports in one statement, filtered here: a list of thousands of ids
    # as parameters cost PostgreSQL a third of a second per 500.
    wanted = set(row_ids)
    query = (
        select(
            card_imports.c.row_id,
            cards.c.serial,
            cards.c.page_secret,
            card_imports.c.created_at,
        )
        .join(cards, cards.c.id == card_imports.c.card_id)
        .where(card_imports.c.shop_id == shop_id)
    )
    return {
        row.row_id: ImportedCard(row.row_id, row.serial, row.page_secret, row.created_at)
        for row in (await conn.execute(query)).all()
        if row.row_id in wanted
    }


async def insert_imported(
    conn: AsyncConnection,
    *,
    shop_id: int,
    program_id: int,
    new: Sequence[NewCard],
    actor: str,
    now: datetime,
    google_object_id: Callable[[str], str] | None = None,
) -> None:
    """Create these cards, each with its `issue` event and an `import` event that gives it its
    stamps; remember their row ids (a row imported meanwhile fails the primary key, and the
    transaction with it). With `google_object_id` each card gets a Google object, inserted by
    the push worker."""
    if not new:
        return
    postgres = conn.dialect.name == "postgresql"
    card_ids = await _reserve_ids(conn, "cards", len(new))
    event_ids = await _reserve_ids(conn, "card_events", 2 * len(new))
    # The card's last change is its import event; on SQLite that event's id is the update tag.
    rows = [
        _card_values(card, shop_id, program_id, now)
        | {"id": card_id, "last_event_id": event_ids[2 * at + 1]}
        | ({} if postgres else {"update_tag": event_ids[2 * at + 1]})
        for at, (card, card_id) in enumerate(zip(new, card_ids, strict=True))
    ]
    await conn.execute(insert(cards).values(update_tag=PG_TAG) if postgres else insert(cards), rows)
    events = []
    for at, (card, card_id) in enumerate(zip(new, card_ids, strict=True)):
        issue, imported = event_ids[2 * at], event_ids[2 * at + 1]
        events.append(_event(issue, card_id, shop_id, "issue", 0, actor, 1, now))
        events.append(_event(imported, card_id, shop_id, "import", card.stamps, actor, 2, now))
    await conn.execute(insert(card_events), events)
    remembered = [
        {"shop_id": shop_id, "row_id": card.row_id, "card_id": card_id, "created_at": now}
        for card, card_id in zip(new, card_ids, strict=True)
    ]
    await conn.execute(insert(card_imports), remembered)
    if google_object_id is not None:
        await _add_google_objects(conn, new, card_ids, now, google_object_id)


async def _reserve_ids(conn: AsyncConnection, table: str, count: int) -> list[int]:
    """`count` new ids of `table`, ascending, so rows can be written without RETURNING (which
    SQLite answers a row at a time when the order matters). PostgreSQL draws them from the
    table's sequence; on SQLite the transaction holds the write lock, so the ids after the
    largest ever given are free (the ledger's AUTOINCREMENT counter moves past them)."""
    if conn.dialect.name == "postgresql":
        drawn = await conn.execute(_NEXT_IDS, {"table": table, "count": count})
        return sorted(drawn.scalars())
    largest = _SQLITE_LEDGER_TOP if table == "card_events" else _SQLITE_CARDS_TOP
    top = int((await conn.execute(largest)).scalar_one())
    return list(range(top + 1, top + 1 + count))


_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"
)
_SQLITE_CARDS_TOP = text("SELECT coalesce(max(id), 0) FROM cards")
_SQLITE_LEDGER_TOP = text(
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'card_events'), 0), "
    "coalesce((SELECT max(id) FROM card_events), 0))"
)


def _card_values(card: NewCard, shop_id: int, program_id: int, now: datetime) -> dict[str, Any]:
    """A new card's columns as after its import (version 2: issued, then given its stamps)."""
    return {
        "shop_id": shop_id,
        "program_id": program_id,
        "serial": card.serial,
        "auth_token": card.auth_token,
        "page_secret": card.page_secret,
        "stamps": card.stamps,
        "rewards_available": 0,
        "total_stamps": card.stamps,
        "rewards_redeemed": 0,
        "voided": False,
        "version": 2,
        "pass_modified_at": whole_second(now),
        "referral_rewarded": False,
        # The stamps' expiry clock starts with the import, as with a visit.
        "last_visit_at": now,
        "stamps_expired": 0,
        "rewards_expired": 0,
        "created_at": now,
        "updated_at": now,
    }


def _event(
    event_id: int,
    card_id: int,
    shop_id: int,
    kind: str,
    stamps: int,
    actor: str,
    version: int,
    now: datetime,
) -> dict[str, Any]:
    """A ledger row of an imported card: nothing but stamps, no reward due."""
    return {
        "id": event_id,
        "card_id": card_id,
        "shop_id": shop_id,
        "kind": kind,
        "count": stamps,
        "idempotency_key": None,
        "actor": actor,
        "stamps_after": stamps,
        "rewards_after": 0,
        "total_after": stamps,
        "redeemed_after": 0,
        "version_after": version,
        "undoes_event_id": None,
        "created_at": now,
        "rewards_due_after": None,
        "stamps_expired_after": 0,
        "rewards_expired_after": 0,
    }


async def _add_google_objects(
    conn: AsyncConnection,
    new: Sequence[NewCard],
    card_ids: Sequence[int],
    now: datetime,
    object_id: Callable[[str], str],
) -> None:
    """Google objects for new cards, each with a due outbox row: a worker inserts it (a request
    per card would hold the import up for minutes)."""
    objects = [
        {
            "card_id": card_id,
            "object_id": object_id(card.serial),
            "saved": False,
            "created_at": now,
            "updated_at": now,
        }
        for card, card_id in zip(new, card_ids, strict=True)
    ]
    await conn.execute(insert(google_objects), objects)
    queued = [
        {"card_id": card_id, "target": "google", "attempts": 0, "created_at": now}
        for card_id in card_ids
    ]
    await conn.execute(insert(push_outbox), queued)
