"""Queries for campaigns: who is in a segment, the campaign and its members, its history.

Delivering the messages is store/campaign_delivery.py; a promotion's window and who it
counts for, store/promotions.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.campaign_rules import Activity
from passes.store.promotions import PromotionWindow
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


async def activity(conn: AsyncConnection, shop_id: int, now: datetime) -> list[Activity]:
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
    # Messages count against the weekly limit from the moment they are queued
    # (a scheduled campaign's members are chosen, and queued, at its send time).
    messaged = (
        select(campaign_members.c.card_id, func.count().label("messages"))
        .join(campaigns, campaigns.c.id == campaign_members.c.campaign_id)
        .where(
            campaigns.c.shop_id == shop_id,
            func.coalesce(campaigns.c.send_at, campaigns.c.created_at) >= now - WEEK,
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


def _activity(row: Any) -> Activity:
    last_visit = row["last_visit"]
    if isinstance(last_visit, str):  # SQLite's max() over timestamps answers text
        last_visit = datetime.fromisoformat(last_visit)
    if last_visit is not None and last_visit.tzinfo is None:
        last_visit = last_visit.replace(tzinfo=row["created_at"].tzinfo)
    return Activity(
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
    resolved: bool = True,
    promotion: PromotionWindow | None = None,
) -> int:
    """The campaign and one member row per recipient and per held-out card.

    An unresolved (scheduled) campaign has no members yet: resolve_campaign adds them
    when it is sent.
    """
    window = promotion or PromotionWindow(None, None, None)
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
                finished_at=None if recipients or not resolved else now,
                send_at=send_at,
                resolved_at=now if resolved else None,
                multiplier=window.multiplier,
                starts_at=window.starts,
                ends_at=window.ends,
            )
            .returning(campaigns.c.id)
        )
    ).scalar_one()
    await _add_members(conn, int(campaign_id), recipients, held_out)
    return int(campaign_id)


async def _add_members(
    conn: AsyncConnection, campaign_id: int, recipients: Sequence[int], held_out: Sequence[int]
) -> None:
    members = [
        {"campaign_id": campaign_id, "card_id": card_id, "held_out": held, "sent_at": None}
        for held, ids in ((False, recipients), (True, held_out))
        for card_id in ids
    ]
    if members:
        await conn.execute(insert(campaign_members), members)


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
            "segment_taken_at": _iso(row["resolved_at"]),
            "multiplier": row["multiplier"],
            "starts_at": _iso(row["starts_at"]),
            "ends_at": _iso(row["ends_at"]),
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


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True)
class DueCampaign:
    """A scheduled campaign whose moment has come and whose segment is still to be taken."""

    id: int
    shop_id: int
    segment: str


async def due_campaigns(conn: AsyncConnection, now: datetime, limit: int) -> list[DueCampaign]:
    """Scheduled campaigns due by now without members yet, locked (other workers skip them)."""
    query = (
        select(campaigns.c.id, campaigns.c.shop_id, campaigns.c.segment)
        .where(
            campaigns.c.resolved_at.is_(None),
            campaigns.c.send_at <= now,
        )
        .order_by(campaigns.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [DueCampaign(*row) for row in (await conn.execute(query)).all()]


async def resolve_campaign(
    conn: AsyncConnection,
    campaign_id: int,
    *,
    recipients: Sequence[int],
    held_out: Sequence[int],
    over_limit: int,
    now: datetime,
) -> None:
    """The scheduled campaign's members, taken now; the worker then delivers to them."""
    await _add_members(conn, campaign_id, recipients, held_out)
    await conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id)
        .values(
            recipients=len(recipients),
            held_out=len(held_out),
            over_limit=over_limit,
            resolved_at=now,
            finished_at=None if recipients else now,
        )
    )
