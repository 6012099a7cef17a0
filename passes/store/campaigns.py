"""Queries for campaigns: who is in a segment, the campaign and its members, their delivery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from passes import notices
from passes.bonus_rules import Promotion
from passes.campaign_rules import Activity
from passes.store.card_changes import apply_changes
from passes.store.cards import lock_cards_by_id
from passes.store.ledger import Change
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


async def deliver_pending(conn: AsyncConnection, limit: int, now: datetime) -> int:
    """Put waiting campaign messages on their cards (ledger + pushes); returns how many."""
    waiting = await pending_messages(conn, limit, now)
    if waiting:
        await deliver_messages(conn, waiting, now)
    await finish_campaigns(conn, now)
    return len(waiting)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True)
class PromotionWindow:
    """A campaign's stamp multiplier and when it applies (all None: a plain message)."""

    multiplier: int | None
    starts: datetime | None
    ends: datetime | None


async def promotions_of(conn: AsyncConnection, shop_id: int, now: datetime) -> list[Promotion]:
    """The shop's promotions that have not ended yet (two small queries)."""
    found = (
        await conn.execute(
            select(
                campaigns.c.id, campaigns.c.multiplier, campaigns.c.starts_at, campaigns.c.ends_at
            ).where(
                campaigns.c.shop_id == shop_id,
                campaigns.c.multiplier.is_not(None),
                campaigns.c.ends_at > now,
            )
        )
    ).all()
    if not found:
        return []
    members = await conn.execute(
        select(campaign_members.c.campaign_id, campaign_members.c.card_id).where(
            campaign_members.c.campaign_id.in_([row.id for row in found]),
            ~campaign_members.c.held_out,
        )
    )
    by_campaign: dict[int, set[int]] = {}
    for campaign_id, card_id in members.all():
        by_campaign.setdefault(campaign_id, set()).add(card_id)
    return [
        Promotion(
            row.id,
            row.multiplier,
            row.starts_at,
            row.ends_at,
            frozenset(by_campaign.get(row.id, ())),
        )
        for row in found
    ]


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
