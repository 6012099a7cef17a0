"""Program changes reach every pass in a wallet: cards move a batch at a time, set-based.

A change of the program (tiers, expiry, name, colours, places, the perk) changes what every
pass of the shop shows, but nothing on the cards themselves: no stamp, no reward. So it
writes no ledger event (the ledger is what happened to a card, and a refresh per card and
change would bury the changes staff may undo); it only moves each card so that wallets
take the new pass:

- `version` + 1, so a writer holding a remembered card (store/optimistic.py) reads it again;
- a new `update_tag`, so the web service lists the card to its devices (store/apple.py):
  on PostgreSQL the writing transaction's id, as for every change; on SQLite a ledger id
  that no event will ever get, taken from the ledger's AUTOINCREMENT counter (an event
  takes the next one after it, so tags stay in commit order);
- a `pass_modified_at` strictly later, in whole seconds, so If-Modified-Since hides nothing;
- an outbox row per registered device and per Google object, unless one still waits.

Cards are taken in id order, `limit` at a time, each batch its own short transaction: a
shop of 100,000 cards never holds one long lock, and stamps go on in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    func,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.card_changes import PG_TAG
from passes.store.cards import whole_second
from passes.store.outbox import build_enqueue
from passes.store.tables import UtcDateTime, apple_registrations, cards, google_objects, push_outbox


@dataclass(frozen=True)
class Batch:
    """What one batch did; `last_id` is where the next one starts, None when none is left."""

    last_id: int | None
    cards: int
    pushes: int


def _held(table: Table) -> ColumnElement[bool]:
    """Whether the card has a row in `table`, looked up by its index card by card. (As
    EXISTS, PostgreSQL hashes every registration of every shop first: 100,000 rows, a
    batch's time three times over, for the 2,000 cards the batch looks at.)"""
    one = select(literal(1)).where(table.c.card_id == cards.c.id).limit(1)
    return one.scalar_subquery().is_not(None)


def _members(loyal_only: bool) -> ColumnElement[bool]:
    """The shop's cards some phone holds (an Apple registration or a Google object), after
    the cursor; with `loyal_only` the long-standing ones only."""
    in_wallet = _held(apple_registrations) | _held(google_objects)
    which = (cards.c.shop_id == bindparam("r_shop")) & (cards.c.id > bindparam("r_after"))
    which = which & in_wallet
    return which & cards.c.loyal_since.is_not(None) if loyal_only else which


def _batch(loyal_only: bool) -> Select[Any]:
    return (
        select(cards.c.id)
        .where(_members(loyal_only))
        .order_by(cards.c.id)
        .limit(bindparam("r_size"))
    )


def _modified(postgres: bool) -> ColumnElement[Any]:
    """max(the change's moment, the card's last Last-Modified + 1 s), as change_params does."""
    moment = bindparam("r_modified", type_=UtcDateTime())
    if postgres:
        return func.greatest(
            moment, cards.c.pass_modified_at + literal_column("interval '1 second'")
        )
    # SQLite keeps times as text, "YYYY-MM-DD HH:MM:SS.ffffff": compared and built as such.
    later = func.strftime("%Y-%m-%d %H:%M:%S", cards.c.pass_modified_at, "+1 second")
    return func.max(moment, later.concat(literal(".000000")))


def _moves(postgres: bool, tag: ColumnElement[Any]) -> dict[str, Any]:
    return {
        "version": cards.c.version + 1,
        "update_tag": tag,
        "pass_modified_at": _modified(postgres),
    }


def _postgres_statement(loyal_only: bool) -> Select[Any]:
    """One round trip a batch: take the cards (locked in id order, as batched stamps lock
    theirs), move them and queue their pushes; answers the last id, cards and pushes."""
    batch = _batch(loyal_only).with_for_update(of=cards).cte("batch")
    moved = (
        update(cards)
        .where(cards.c.id.in_(select(batch.c.id)))
        .values(**_moves(True, PG_TAG))
        .returning(cards.c.id.label("card_id"))
        .cte("moved")
    )
    at = bindparam("r_now", type_=push_outbox.c.created_at.type)
    queued = build_enqueue(locking=True, moved=moved, at=at).cte("queued")
    return select(
        select(func.max(batch.c.id)).scalar_subquery().label("last_id"),
        select(func.count()).select_from(moved).scalar_subquery().label("cards"),
        select(func.count()).select_from(queued).scalar_subquery().label("pushes"),
    )


_POSTGRES = {loyal: _postgres_statement(loyal) for loyal in (False, True)}


# SQLite runs one writer at a time and has no data-modifying CTEs: the batch is found once,
# then the cards in (after_id, last_id] that are members are moved and queued.
def _sqlite_find(loyal_only: bool) -> Select[Any, int]:
    batch = _batch(loyal_only).subquery()
    return select(func.max(batch.c.id), func.count()).select_from(batch)


_SQLITE_FIND = {loyal: _sqlite_find(loyal) for loyal in (False, True)}
# The counter's row appears with the first event; a ledger that never had one gets it here.
_LEDGER_COUNTER = text(
    "INSERT INTO sqlite_sequence (name, seq) "
    "SELECT 'card_events', (SELECT coalesce(max(id), 0) FROM card_events) "
    "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'card_events')"
)
_TAKE_LEDGER_ID = text(
    "UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'card_events' RETURNING seq"
)


def _sqlite_range(loyal_only: bool) -> ColumnElement[bool]:
    return _members(loyal_only) & (cards.c.id <= bindparam("r_last"))


_SQLITE_MOVE = {
    loyal: update(cards)
    .where(_sqlite_range(loyal))
    .values(**_moves(False, bindparam("r_tag", type_=cards.c.update_tag.type)))
    for loyal in (False, True)
}
_SQLITE_QUEUE = {
    loyal: build_enqueue(
        locking=False,
        moved=select(cards.c.id.label("card_id")).where(_sqlite_range(loyal)).cte("moved"),
        at=bindparam("r_now", type_=push_outbox.c.created_at.type),
    )
    for loyal in (False, True)
}


async def refresh_batch(
    conn: AsyncConnection,
    shop_id: int,
    after_id: int,
    batch_size: int,
    now: datetime,
    *,
    loyal_only: bool = False,
) -> Batch:
    """Move the shop's next `batch_size` cards in wallets after `after_id` (see the module)."""
    params: dict[str, Any] = {
        "r_shop": shop_id,
        "r_after": after_id,
        "r_size": batch_size,
        "r_modified": whole_second(now),
        "r_now": now,
    }
    if conn.dialect.name == "postgresql":
        row = (await conn.execute(_POSTGRES[loyal_only], params)).one()
        return Batch(row.last_id, int(row.cards), int(row.pushes))
    last_id, count = (await conn.execute(_SQLITE_FIND[loyal_only], params)).one()
    if not count:
        return Batch(None, 0, 0)
    await conn.execute(_LEDGER_COUNTER)
    tag = (await conn.execute(_TAKE_LEDGER_ID)).scalar_one()
    params = {**params, "r_last": last_id, "r_tag": tag}
    await conn.execute(_SQLITE_MOVE[loyal_only], params)
    queued = await conn.execute(_SQLITE_QUEUE[loyal_only], params)
    return Batch(int(last_id), int(count), len(queued.all()))


async def note_outbox_growth(conn: AsyncConnection) -> None:
    """Tell PostgreSQL's planner that the outbox grew (ANALYZE; it also re-plans prepared
    statements). Its statistics are often those of an empty outbox, in which hardly a row
    waits: then finding the waiting rows of a batch's cards, here and in every stamp
    (store/outbox.py), scans all waiting rows once per card, and a refresh that has queued
    100,000 pushes would slow itself and every stamp down until autovacuum comes by."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("ANALYZE push_outbox"))


async def count_in_wallets(conn: AsyncConnection, shop_id: int, *, loyal_only: bool = False) -> int:
    """How many of the shop's cards a refresh would move."""
    query = select(func.count()).select_from(cards).where(_members(loyal_only))
    return int((await conn.execute(query, {"r_shop": shop_id, "r_after": 0})).scalar_one())
