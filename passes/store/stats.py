"""Queries behind the owner's figures: card totals, recent ledger rows, wallets, the CSV export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.stats import CardTotals, LedgerRow, Stats, figures, window_start
from passes.store.db import Store
from passes.store.google import google_saved_count
from passes.store.tables import apple_registrations, card_events, cards

EXPORT_BATCH = 1000
LEDGER_COLUMNS = (
    "id",
    "created_at",
    "serial",
    "kind",
    "count",
    "actor",
    "stamps_after",
    "rewards_after",
    "total_after",
    "redeemed_after",
    "undoes_event_id",
)


async def load_stats(store: Store, shop_id: int, today: date) -> Stats:
    """The shop's figures for the window ending `today`."""
    since = datetime.combine(window_start(today), time.min, tzinfo=UTC)
    async with store.reading() as conn:
        totals = await card_totals(conn, shop_id)
        rows = await ledger_since(conn, shop_id, since)
    return figures(totals, rows, today)


async def card_totals(conn: AsyncConnection, shop_id: int) -> CardTotals:
    """Cards issued, stamps and rewards redeemed over all time, and cards in each wallet."""
    query = select(
        func.count(),
        func.coalesce(func.sum(cards.c.total_stamps), 0),
        func.coalesce(func.sum(cards.c.rewards_redeemed), 0),
    ).where(cards.c.shop_id == shop_id)
    issued, stamps, redeemed = (await conn.execute(query)).one()
    apple_query = (
        select(func.count(distinct(apple_registrations.c.card_id)))
        .select_from(apple_registrations.join(cards, cards.c.id == apple_registrations.c.card_id))
        .where(cards.c.shop_id == shop_id)
    )
    apple = int((await conn.execute(apple_query)).scalar_one())
    google = await google_saved_count(conn, shop_id)
    return CardTotals(int(issued), int(stamps), int(redeemed), apple, google)


async def ledger_since(conn: AsyncConnection, shop_id: int, since: datetime) -> list[LedgerRow]:
    """The shop's stamp, undo and redeem events since `since`."""
    query = select(
        card_events.c.card_id, card_events.c.kind, card_events.c.count, card_events.c.created_at
    ).where(
        card_events.c.shop_id == shop_id,
        card_events.c.created_at >= since,
        card_events.c.kind.in_(("stamp", "undo", "redeem")),
    )
    rows = (await conn.execute(query)).mappings().all()
    return [LedgerRow(row["card_id"], row["kind"], row["count"], row["created_at"]) for row in rows]


async def ledger_export(conn: AsyncConnection, shop_id: int) -> AsyncIterator[tuple[object, ...]]:
    """Every ledger event of the shop, oldest first, fetched in batches by id."""
    after = 0
    while True:
        query = (
            select(
                card_events.c.id,
                card_events.c.created_at,
                cards.c.serial,
                card_events.c.kind,
                card_events.c.count,
                card_events.c.actor,
                card_events.c.stamps_after,
                card_events.c.rewards_after,
                card_events.c.total_after,
                card_events.c.redeemed_after,
                card_events.c.undoes_event_id,
            )
            .join(cards, cards.c.id == card_events.c.card_id)
            .where(card_events.c.shop_id == shop_id, card_events.c.id > after)
            .order_by(card_events.c.id)
            .limit(EXPORT_BATCH)
        )
        rows = (await conn.execute(query)).all()
        for row in rows:
            yield tuple(row)
        if len(rows) < EXPORT_BATCH:
            return
        after = rows[-1][0]
