"""Queries for campaigns: who is in a segment, the campaign and its members, their delivery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.cards import Change, apply_change, lock_card_by_id
from passes.store.tables import (
    apple_registrations,
    campaign_members,
    campaigns,
    card_events,
    cards,
    google_objects,
    push_attempts,
    push_outbox,
)

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class ActivityRow:
    """What the ledger says about one card (loyalty.Activity is built from it)."""

    card_id: int
    joined: datetime
    last_visit: datetime | None
    visits: int
    rewards_available: int
    apple: bool
    google: bool
    messages_last_week: int
    voided: bool


async def activity(conn: AsyncConnection, shop_id: int, now: datetime) -> list[ActivityRow]:
    """Every card of the shop with its visits, last visit and messages in the last week."""
    events = card_events.c
    is_stamp = events.kind == "stamp"
    ledger = (
        select(
            events.card_id,
            func.count(case((is_stamp, 1))).label("visits"),
            func.max(case((is_stamp, events.created_at))).label("last_visit"),
        )
        .where(events.shop_id == shop_id)
        .group_by(events.card_id)
        .subquery()
    )
    # Messages count against the weekly limit from the moment they are queued.
    messaged = (
        select(campaign_members.c.card_id, func.count().label("messages"))
        .join(campaigns, campaigns.c.id == campaign_members.c.campaign_id)
        .where(
            campaigns.c.shop_id == shop_id,
            campaigns.c.created_at >= now - WEEK,
            ~campaign_members.c.held_out,
        )
        .group_by(campaign_members.c.card_id)
        .subquery()
    )
    apple = exists().where(apple_registrations.c.card_id == cards.c.id)
    google = exists().where(google_objects.c.card_id == cards.c.id, google_objects.c.saved)
    query = (
        select(
            cards.c.id,
            cards.c.created_at,
            cards.c.rewards_available,
            cards.c.voided,
            ledger.c.visits,
            ledger.c.last_visit,
            messaged.c.messages,
            apple.label("apple"),
            google.label("google"),
        )
        .outerjoin(ledger, ledger.c.card_id == cards.c.id)
        .outerjoin(messaged, messaged.c.card_id == cards.c.id)
        .where(cards.c.shop_id == shop_id)
    )
    return [_activity(row) for row in (await conn.execute(query)).mappings()]


def _activity(row: Any) -> ActivityRow:
    last_visit = row["last_visit"]
    if isinstance(last_visit, str):  # SQLite's max() over timestamps answers text
        last_visit = datetime.fromisoformat(last_visit)
    if last_visit is not None and last_visit.tzinfo is None:
        last_visit = last_visit.replace(tzinfo=row["created_at"].tzinfo)
    return ActivityRow(
        card_id=row["id"],
        joined=row["created_at"],
        last_visit=last_visit,
        visits=row["visits"] or 0,
        rewards_available=row["rewards_available"],
        apple=bool(row["apple"]),
        google=bool(row["google"]),
        messages_last_week=row["messages"] or 0,
        voided=row["voided"],
    )


async def create_campaign(
    conn: AsyncConnection,
    shop_id: int,
    text: str,
    segment: str,
    *,
    recipients: Sequence[int],
    held_out: Sequence[int],
    over_limit: int,
    now: datetime,
    send_at: datetime | None = None,
) -> int:
    """The campaign and one member row per recipient and per held-out card."""
    campaign_id = (
        await conn.execute(
            insert(campaigns)
            .values(
                shop_id=shop_id,
                text=text,
                segment=segment,
                recipients=len(recipients),
                held_out=len(held_out),
                over_limit=over_limit,
                created_at=now,
                finished_at=None if recipients else now,
                send_at=send_at,
            )
            .returning(campaigns.c.id)
        )
    ).scalar_one()
    members = [
        {"campaign_id": campaign_id, "card_id": card_id, "held_out": held, "sent_at": None}
        for held, ids in ((False, recipients), (True, held_out))
        for card_id in ids
    ]
    if members:
        await conn.execute(insert(campaign_members), members)
    return int(campaign_id)


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


async def deliver_message(conn: AsyncConnection, message: PendingMessage, now: datetime) -> None:
    """Put the message on the card (a ledger event, pushes queued) and mark it sent, at once."""
    marked = await conn.execute(
        update(campaign_members)
        .where(
            campaign_members.c.campaign_id == message.campaign_id,
            campaign_members.c.card_id == message.card_id,
            campaign_members.c.sent_at.is_(None),
        )
        .values(sent_at=now)
    )
    if marked.rowcount != 1:  # another worker got there first
        return
    card = await lock_card_by_id(conn, message.card_id)
    change = Change(
        "message",
        0,
        f"campaign:{message.campaign_id}",
        card.counters,
        news=message.text,
        campaign_id=message.campaign_id,
    )
    await apply_change(conn, card, change, now)


async def finish_campaigns(conn: AsyncConnection, now: datetime) -> None:
    """Campaigns whose every recipient got the message are finished."""
    unsent = exists().where(
        campaign_members.c.campaign_id == campaigns.c.id,
        campaign_members.c.sent_at.is_(None),
        ~campaign_members.c.held_out,
    )
    await conn.execute(
        update(campaigns).where(campaigns.c.finished_at.is_(None), ~unsent).values(finished_at=now)
    )


async def history(conn: AsyncConnection, shop_id: int) -> list[dict[str, Any]]:
    """The shop's campaigns, newest first, with what delivery answered so far."""
    outcome = push_attempts.c.outcome
    attempts = (
        select(
            push_attempts.c.campaign_id,
            func.count(case((outcome == "delivered", 1))).label("delivered"),
            func.count(case((outcome == "failed", 1))).label("failed"),
            func.count(case((outcome == "unregistered", 1))).label("devices_removed"),
        )
        .group_by(push_attempts.c.campaign_id)
        .subquery()
    )
    queued = (
        select(push_outbox.c.campaign_id, func.count().label("queued"))
        .group_by(push_outbox.c.campaign_id)
        .subquery()
    )
    query = (
        select(
            campaigns,
            attempts.c.delivered,
            attempts.c.failed,
            attempts.c.devices_removed,
            queued.c.queued,
        )
        .outerjoin(attempts, attempts.c.campaign_id == campaigns.c.id)
        .outerjoin(queued, queued.c.campaign_id == campaigns.c.id)
        .where(campaigns.c.shop_id == shop_id)
        .order_by(campaigns.c.id.desc())
        .limit(100)
    )
    return [
        {
            "id": row["id"],
            "text": row["text"],
            "segment": row["segment"],
            "created_at": row["created_at"].isoformat(),
            "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
            "send_at": row["send_at"].isoformat() if row["send_at"] else None,
            "recipients": row["recipients"],
            "held_out": row["held_out"],
            "over_limit": row["over_limit"],
            "queued": row["queued"] or 0,
            "delivered": row["delivered"] or 0,
            "failed": row["failed"] or 0,
            "devices_removed": row["devices_removed"] or 0,
        }
        for row in (await conn.execute(query)).mappings()
    ]


async def deliver_pending(conn: AsyncConnection, limit: int, now: datetime) -> int:
    """Put waiting campaign messages on their cards (ledger + pushes); returns how many."""
    waiting = await pending_messages(conn, limit, now)
    for message in waiting:
        await deliver_message(conn, message, now)
    await finish_campaigns(conn, now)
    return len(waiting)
