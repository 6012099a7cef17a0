"""Delivering campaign messages: each waiting recipient's card gets the message (a ledger
event and its pushes), and a campaign whose recipients all have it is finished."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from passes import notices
from passes.store.card_changes import apply_changes
from passes.store.cards import lock_cards_by_id
from passes.store.ledger import Change
from passes.store.tables import campaign_members, campaigns


@dataclass(frozen=True)
class PendingMessage:
    """One recipient still waiting for a campaign message."""

    campaign_id: int
    card_id: int
    text: str


async def pending_messages(
    conn: AsyncConnection, limit: int, now: datetime
) -> list[PendingMessage]:
    """Recipients of unfinished campaigns, due by now, who have not had their message yet."""
    query = (
        select(campaign_members.c.campaign_id, campaign_members.c.card_id, campaigns.c.text)
        .join(campaigns, campaigns.c.id == campaign_members.c.campaign_id)
        .where(
            campaigns.c.finished_at.is_(None),
            or_(campaigns.c.send_at.is_(None), campaigns.c.send_at <= now),
            campaign_members.c.sent_at.is_(None),
            ~campaign_members.c.held_out,
        )
        .order_by(campaign_members.c.campaign_id, campaign_members.c.card_id)
        .limit(limit)
    )
    return [PendingMessage(*row) for row in (await conn.execute(query)).all()]


async def deliver_messages(
    conn: AsyncConnection, messages: Sequence[PendingMessage], now: datetime
) -> int:
    """Put the messages on their cards (ledger events, pushes queued) and mark them sent, at
    once and in a few statements however many there are; returns how many were delivered.

    A message another worker marked first is left to it (PostgreSQL: its row lock makes us
    wait, then we see it sent).
    """
    texts: dict[int, str] = {}
    by_campaign: dict[int, list[int]] = {}
    for message in messages:
        texts[message.campaign_id] = message.text
        by_campaign.setdefault(message.campaign_id, []).append(message.card_id)
    marked: list[tuple[int, int]] = []
    for campaign_id, card_ids in by_campaign.items():
        sent = await conn.execute(
            update(campaign_members)
            .where(
                campaign_members.c.campaign_id == campaign_id,
                campaign_members.c.card_id.in_(card_ids),
                campaign_members.c.sent_at.is_(None),
            )
            .values(sent_at=now)
            .returning(campaign_members.c.card_id)
        )
        marked += [(campaign_id, card_id) for card_id in sent.scalars()]
    locked = await lock_cards_by_id(conn, {card_id for _, card_id in marked})
    changes = [
        (
            locked[card_id],
            Change(
                "message",
                0,
                f"campaign:{campaign_id}",
                locked[card_id].counters,
                news=texts[campaign_id],
                campaign_id=campaign_id,
                notice=notices.message(texts[campaign_id]),
            ),
        )
        for campaign_id, card_id in marked
        if card_id in locked
    ]
    await apply_changes(conn, changes, now)
    return len(changes)


async def finish_campaigns(conn: AsyncConnection, now: datetime) -> None:
    """Campaigns whose every recipient got the message are finished."""
    unsent = exists().where(
        campaign_members.c.campaign_id == campaigns.c.id,
        campaign_members.c.sent_at.is_(None),
        ~campaign_members.c.held_out,
    )
    # A scheduled campaign without members yet is waiting, not finished.
    await conn.execute(
        update(campaigns)
        .where(campaigns.c.finished_at.is_(None), campaigns.c.resolved_at.is_not(None), ~unsent)
        .values(finished_at=now)
    )


async def deliver_pending(conn: AsyncConnection, limit: int, now: datetime) -> int:
    """Put waiting campaign messages on their cards (ledger + pushes); returns how many."""
    waiting = await pending_messages(conn, limit, now)
    if waiting:
        await deliver_messages(conn, waiting, now)
    await finish_campaigns(conn, now)
    return len(waiting)
