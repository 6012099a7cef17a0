"""Queries behind the owner's figures: card totals, recent ledger rows, wallets, the CSV export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, case, distinct, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.stats import (
    RESPONSE_DAYS,
    CampaignResponse,
    CardTotals,
    LedgerRow,
    ProgramTotals,
    Stats,
    figures,
    window_start,
)
from passes.store.db import Store
from passes.store.google import google_saved_count
from passes.store.history import named_events, with_names
from passes.store.tables import (
    apple_registrations,
    campaign_members,
    campaigns,
    card_events,
    cards,
)

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
    "person",
    "branch",
)


async def load_stats(
    store: Store, shop_id: int, today: date, branch_id: int | None = None
) -> Stats:
    """The shop's figures for the window ending `today`: of the whole shop, or with
    `branch_id` (a branch of this shop, checked by the caller) the ledger's figures of that
    branch (the card facts, cards issued and wallets, stay the whole shop's)."""
    since = datetime.combine(window_start(today), time.min, tzinfo=UTC)
    async with store.reading() as conn:
        totals = await card_totals(conn, shop_id)
        if branch_id is not None:
            totals = await branch_totals(conn, shop_id, branch_id, totals)
        rows = await ledger_since(conn, shop_id, since)
    return figures(totals, rows, today, branch_id)


async def card_totals(conn: AsyncConnection, shop_id: int) -> CardTotals:
    """Cards issued, stamps and rewards redeemed over all time, and cards in each wallet."""
    query = select(
        func.count(),
        func.coalesce(func.sum(cards.c.total_stamps), 0),
        func.coalesce(func.sum(cards.c.rewards_redeemed), 0),
    ).where(cards.c.shop_id == shop_id)
    issued, stamps, redeemed = (await conn.execute(query)).one()
    bonus = await bonus_total(conn, shop_id)
    apple_query = (
        select(func.count(distinct(apple_registrations.c.card_id)))
        .select_from(apple_registrations.join(cards, cards.c.id == apple_registrations.c.card_id))
        .where(cards.c.shop_id == shop_id)
    )
    apple = int((await conn.execute(apple_query)).scalar_one())
    google = await google_saved_count(conn, shop_id)
    return CardTotals(int(issued), int(stamps), int(redeemed), apple, google, bonus)


async def bonus_total(conn: AsyncConnection, shop_id: int) -> int:
    """Bonus stamps given over all time, less those taken back with their stamp."""
    events = card_events.c
    signed = case((events.kind == "bonus", events.count), else_=-events.count)
    query = select(func.coalesce(func.sum(signed), 0)).where(
        events.shop_id == shop_id, events.kind.in_(("bonus", "undo_bonus"))
    )
    return int((await conn.execute(query)).scalar_one())


_COUNTED = ("stamp", "undo", "redeem", "bonus", "undo_bonus")
_UNDOS = ("undo", "undo_bonus")
# The change an undo takes back.
_UNDONE = card_events.alias("undone")


async def ledger_since(conn: AsyncConnection, shop_id: int, since: datetime) -> list[LedgerRow]:
    """The shop's stamp, bonus, undo and redeem events since `since`, with their branch (an
    undo's is that of the change it takes back: a stamp given at one branch and undone from
    anywhere leaves that branch's figures, not another's)."""
    events = card_events.c
    query = select(
        events.card_id,
        events.kind,
        events.count,
        events.created_at,
        events.id,
        events.undoes_event_id,
        events.branch_id,
    ).where(
        events.shop_id == shop_id,
        events.created_at >= since,
        events.kind.in_(_COUNTED),
    )
    rows = [LedgerRow(*row) for row in (await conn.execute(query)).all()]
    # An undo comes within minutes of its stamp: the branch is nearly always among the rows,
    # else (at the window's start) asked for by id. Cheaper than any join (measured).
    where = {row.id: row.branch_id for row in rows}
    undos = {row.id: row.undoes for row in rows if row.kind in _UNDOS and row.undoes}
    if missing := set(undos.values()) - where.keys():
        earlier = select(events.id, events.branch_id).where(
            events.shop_id == shop_id, events.id.in_(missing)
        )
        where |= {found: branch for found, branch in (await conn.execute(earlier)).all()}
    return [
        replace(row, branch_id=where.get(undos[row.id])) if row.id in undos else row for row in rows
    ]


async def branch_totals(
    conn: AsyncConnection, shop_id: int, branch_id: int, shop: CardTotals
) -> CardTotals:
    """`shop`'s totals with the ledger's part of one branch over all time: its stamps (bonus
    ones included), bonus stamps and rewards redeemed, less the undos of its changes (an
    undo counts where the change it takes back was made, wherever it was asked for)."""
    events, undone = card_events.c, _UNDONE.c

    def total(kind: str) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((events.kind == kind, events.count), else_=0)), 0)

    # Two plain queries: one expression for both made PostgreSQL's planner guess a cost
    # that switched JIT on, slower by 250 ms on 200,000 events (measured).
    given = select(total("stamp"), total("bonus"), total("redeem")).where(
        events.shop_id == shop_id,
        events.branch_id == branch_id,
        events.kind.in_(("stamp", "bonus", "redeem")),
    )
    stamps, bonus, redeemed = (await conn.execute(given)).one()
    taken = (
        select(total("undo"), total("undo_bonus"))
        .join_from(card_events, _UNDONE, undone.id == events.undoes_event_id)
        .where(events.shop_id == shop_id, events.kind.in_(_UNDOS), undone.branch_id == branch_id)
    )
    undone_stamps, undone_bonus = (await conn.execute(taken)).one()
    bonus = int(bonus) - int(undone_bonus)
    net = int(stamps) - int(undone_stamps) + bonus
    return replace(shop, stamps=net, bonus=bonus, redeemed=int(redeemed))


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
                *with_names(),
            )
            .select_from(named_events(shop_id))
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


async def program_totals(conn: AsyncConnection, shop_id: int) -> ProgramTotals:
    """Rewards earned and redeemed, stamp visits and the cards that made them, all time."""
    # Expired rewards were earned too: leaving them out would flatter the redemption rate.
    owed = cards.c.rewards_available + cards.c.rewards_redeemed + cards.c.rewards_expired
    earned = select(
        func.coalesce(func.sum(owed), 0),
        func.coalesce(func.sum(cards.c.rewards_redeemed), 0),
    ).where(cards.c.shop_id == shop_id)
    rewards_earned, rewards_redeemed = (await conn.execute(earned)).one()
    visits = select(func.count(), func.count(distinct(card_events.c.card_id))).where(
        card_events.c.shop_id == shop_id, card_events.c.kind == "stamp"
    )
    stamp_visits, visiting = (await conn.execute(visits)).one()
    return ProgramTotals(
        int(rewards_earned), int(rewards_redeemed), int(stamp_visits), int(visiting)
    )


async def campaign_responses(
    conn: AsyncConnection, shop_id: int, limit: int = 10
) -> list[CampaignResponse]:
    """For the latest campaigns: who of the recipients and of the hold-out visited within a week."""
    latest = (
        # A scheduled campaign counts from when it was sent, not when it was made.
        select(
            campaigns.c.id,
            campaigns.c.text,
            func.coalesce(campaigns.c.send_at, campaigns.c.created_at),
        )
        .where(campaigns.c.shop_id == shop_id)
        .order_by(campaigns.c.id.desc())
        .limit(limit)
    )
    return [await _response(conn, *row) for row in (await conn.execute(latest)).all()]


async def _response(
    conn: AsyncConnection, campaign_id: int, text: str, sent_at: datetime
) -> CampaignResponse:
    members, events = campaign_members.c, card_events.c
    visited = exists().where(
        events.card_id == members.card_id,
        events.kind == "stamp",
        events.created_at > sent_at,
        events.created_at <= sent_at + timedelta(days=RESPONSE_DAYS),
    )
    query = select(
        func.count(case((~members.held_out, 1))),
        func.count(case((and_(~members.held_out, visited), 1))),
        func.count(case((members.held_out, 1))),
        func.count(case((and_(members.held_out, visited), 1))),
    ).where(members.campaign_id == campaign_id)
    recipients, answered, held_out, held_answered = (await conn.execute(query)).one()
    return CampaignResponse(
        campaign_id, text, sent_at, recipients, answered, held_out, held_answered
    )
