"""Webhook endpoints, their outbox (filled by migration 0022's triggers) and attempts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import campaigns, card_events, cards
from passes.store.webhook_tables import (
    webhook_attempts,
    webhook_endpoints,
    webhook_outbox,
    webhook_subscriptions,
)
from passes.webhook_events import CampaignFacts, LedgerFacts

# Attempts kept per endpoint for the owner to read.
KEPT_ATTEMPTS = 50


@dataclass(frozen=True)
class AttemptRow:
    """One try to deliver a message: the answer's status (None: no answer) and its time."""

    message_id: str
    event_type: str
    status: int | None
    error: str | None
    answer_ms: int
    at: datetime


@dataclass(frozen=True)
class EndpointRow:
    """A shop's endpoint as the owner sees it (never its secret)."""

    id: int
    url: str
    events: tuple[str, ...]
    created_at: datetime
    paused_reason: str | None
    pending: int
    attempts: tuple[AttemptRow, ...]


@dataclass(frozen=True)
class Claimed:
    """A message taken for delivery, with where it goes and the secret it is signed with."""

    id: int
    endpoint_id: int
    url: str
    secret: str
    event_type: str
    card_id: int | None
    event_id: int | None
    campaign_id: int | None
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """What a try answered: `status` None when nothing came back (then `error` says why)."""

    message: Claimed
    status: int | None
    error: str | None
    answer_ms: int

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def add_endpoint(
    conn: AsyncConnection,
    shop_id: int,
    url: str,
    secret: str,
    events: Sequence[str],
    now: datetime,
) -> int:
    """A new endpoint subscribed to `events`; its id."""
    made = await conn.execute(
        insert(webhook_endpoints)
        .values(shop_id=shop_id, url=url, secret=secret, created_at=now)
        .returning(webhook_endpoints.c.id)
    )
    endpoint_id = int(made.scalar_one())
    await conn.execute(
        insert(webhook_subscriptions),
        [{"endpoint_id": endpoint_id, "event_type": e, "shop_id": shop_id} for e in events],
    )
    return endpoint_id


async def endpoints(
    conn: AsyncConnection, shop_id: int, endpoint_id: int | None = None
) -> list[EndpointRow]:
    """The shop's endpoints (or the one asked), oldest first, with their recent attempts."""
    query = select(webhook_endpoints).where(webhook_endpoints.c.shop_id == shop_id)
    if endpoint_id is not None:
        query = query.where(webhook_endpoints.c.id == endpoint_id)
    found = (await conn.execute(query.order_by(webhook_endpoints.c.id))).mappings().all()
    ids = [row["id"] for row in found]
    events: dict[int, list[str]] = {i: [] for i in ids}
    subscribed = await conn.execute(
        select(webhook_subscriptions.c.endpoint_id, webhook_subscriptions.c.event_type).where(
            webhook_subscriptions.c.endpoint_id.in_(ids)
        )
    )
    for row in subscribed:
        events[row.endpoint_id].append(row.event_type)
    pending = await conn.execute(
        select(webhook_outbox.c.endpoint_id, func.count())
        .where(webhook_outbox.c.endpoint_id.in_(ids))
        .group_by(webhook_outbox.c.endpoint_id)
    )
    waiting = {row[0]: int(row[1]) for row in pending}
    tried = await conn.execute(
        select(webhook_attempts)
        .where(webhook_attempts.c.endpoint_id.in_(ids))
        .order_by(webhook_attempts.c.id.desc())
    )
    attempts: dict[int, list[AttemptRow]] = {i: [] for i in ids}
    for a in tried.mappings():
        attempts[a["endpoint_id"]].append(
            AttemptRow(
                a["message_id"],
                a["event_type"],
                a["status"],
                a["error"],
                a["answer_ms"],
                a["created_at"],
            )
        )
    return [
        EndpointRow(
            row["id"],
            row["url"],
            tuple(sorted(events[row["id"]])),
            row["created_at"],
            row["paused_reason"],
            waiting.get(row["id"], 0),
            tuple(attempts[row["id"]]),
        )
        for row in found
    ]


async def delete_endpoint(conn: AsyncConnection, shop_id: int, endpoint_id: int) -> bool:
    """Remove the endpoint with its waiting messages; False if the shop has no such one."""
    for table in (webhook_outbox, webhook_subscriptions, webhook_attempts):
        owned = exists().where(
            webhook_endpoints.c.id == table.c.endpoint_id, webhook_endpoints.c.shop_id == shop_id
        )
        await conn.execute(delete(table).where(table.c.endpoint_id == endpoint_id, owned))
    gone = await conn.execute(
        delete(webhook_endpoints).where(
            webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.shop_id == shop_id
        )
    )
    return gone.rowcount > 0


async def resume_endpoint(
    conn: AsyncConnection, shop_id: int, endpoint_id: int, now: datetime
) -> bool:
    """Deliver to a paused endpoint again, its waiting messages at once."""
    resumed = await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.shop_id == shop_id)
        .values(paused_at=None, paused_reason=None, failing_since=None)
    )
    if resumed.rowcount == 0:
        return False
    await conn.execute(
        update(webhook_outbox).where(webhook_outbox.c.endpoint_id == endpoint_id).values(due_at=now)
    )
    return True


async def claim(
    conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int
) -> list[Claimed]:
    """Take up to `limit` due messages for a while: per endpoint and card only the oldest
    waiting one (a failing message holds back the card's later ones), none for a paused
    endpoint. Other workers skip what is taken (SKIP LOCKED)."""
    box, earlier = webhook_outbox, webhook_outbox.alias("earlier")
    first_of_card = ~exists().where(
        earlier.c.endpoint_id == box.c.endpoint_id,
        earlier.c.card_id == box.c.card_id,
        or_(
            earlier.c.event_id < box.c.event_id,
            and_(earlier.c.event_id == box.c.event_id, earlier.c.seq < box.c.seq),
        ),
    )
    active = exists().where(
        webhook_endpoints.c.id == box.c.endpoint_id, webhook_endpoints.c.paused_at.is_(None)
    )
    due = (
        select(box.c.id)
        .where(
            box.c.due_at <= now,
            or_(box.c.claimed_until.is_(None), box.c.claimed_until <= now),
            active,
            first_of_card,
        )
        .order_by(box.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    taken = await conn.execute(
        update(box)
        .where(box.c.id.in_(due.scalar_subquery()))
        .values(claimed_until=lease_until, attempts=box.c.attempts + 1)
        .returning(box.c.id)
    )
    ids = list(taken.scalars())
    if not ids:
        return []
    rows = await conn.execute(
        select(box, webhook_endpoints.c.url, webhook_endpoints.c.secret)
        .join(webhook_endpoints, webhook_endpoints.c.id == box.c.endpoint_id)
        .where(box.c.id.in_(ids))
        .order_by(box.c.id)
    )
    return [
        Claimed(
            r["id"],
            r["endpoint_id"],
            r["url"],
            r["secret"],
            r["event_type"],
            r["card_id"],
            r["event_id"],
            r["campaign_id"],
            r["attempts"],
        )
        for r in rows.mappings()
    ]


async def facts(
    conn: AsyncConnection, messages: Sequence[Claimed]
) -> dict[int, LedgerFacts | CampaignFacts]:
    """What each message tells, by its id (none for an erased card's)."""
    event_ids = {m.event_id for m in messages if m.event_id is not None}
    campaign_ids = {m.campaign_id for m in messages if m.campaign_id is not None}
    ledger: dict[int, LedgerFacts] = {}
    if event_ids:
        e = card_events.c
        found = await conn.execute(
            select(card_events, cards.c.serial)
            .outerjoin(cards, cards.c.id == e.card_id)
            .where(e.id.in_(event_ids))
        )
        for r in found.mappings():
            ledger[r["id"]] = LedgerFacts(
                r["id"], r["serial"], r["kind"], r["count"], r["stamps_after"],
                r["rewards_after"], r["total_after"], r["redeemed_after"], r["created_at"],
            )  # fmt: skip
    sent: dict[int, CampaignFacts] = {}
    if campaign_ids:
        c = campaigns.c
        found = await conn.execute(select(campaigns).where(c.id.in_(campaign_ids)))
        for r in found.mappings():
            at = r["finished_at"] or r["created_at"]
            sent[r["id"]] = CampaignFacts(r["id"], r["segment"], r["recipients"], at)
    told: dict[int, LedgerFacts | CampaignFacts] = {}
    for m in messages:
        fact = ledger.get(m.event_id or 0) or sent.get(m.campaign_id or 0)
        if fact is not None:
            told[m.id] = fact
    return told


async def settle(
    conn: AsyncConnection,
    outcomes: Sequence[Outcome],
    now: datetime,
    retry_at: dict[int, datetime],
    paused: dict[int, str],
) -> None:
    """Record each try; a delivered message leaves the outbox and its endpoint counts as
    working, a failed one waits until `retry_at[its id]` and its endpoint as failing since
    its first failure. Endpoints in `paused` stop with that reason."""
    if not outcomes:
        return
    await conn.execute(
        insert(webhook_attempts),
        [
            {
                "endpoint_id": o.message.endpoint_id,
                "message_id": message_id(o.message.id),
                "event_type": o.message.event_type,
                "status": o.status,
                "error": (o.error or "")[:200] or None,
                "answer_ms": o.answer_ms,
                "created_at": now,
            }
            for o in outcomes
        ],
    )
    delivered = [o.message.id for o in outcomes if o.delivered]
    if delivered:
        await conn.execute(delete(webhook_outbox).where(webhook_outbox.c.id.in_(delivered)))
    working = {o.message.endpoint_id for o in outcomes if o.delivered}
    failing = {o.message.endpoint_id for o in outcomes if not o.delivered} - working
    endpoint = webhook_endpoints.c
    if working:
        await conn.execute(
            update(webhook_endpoints).where(endpoint.id.in_(working)).values(failing_since=None)
        )
    if failing:
        await conn.execute(
            update(webhook_endpoints)
            .where(endpoint.id.in_(failing), endpoint.failing_since.is_(None))
            .values(failing_since=now)
        )
    for o in outcomes:
        if not o.delivered:
            await conn.execute(
                update(webhook_outbox)
                .where(webhook_outbox.c.id == o.message.id)
                .values(claimed_until=None, due_at=retry_at[o.message.id])
            )
    for endpoint_id, reason in paused.items():
        await conn.execute(
            update(webhook_endpoints)
            .where(endpoint.id == endpoint_id)
            .values(paused_at=now, paused_reason=reason)
        )
    await _forget_old_attempts(conn, {o.message.endpoint_id for o in outcomes})


async def failing_since(conn: AsyncConnection, endpoint_ids: set[int]) -> dict[int, datetime]:
    """Since when each of these endpoints failed every try (absent: the last one worked)."""
    found = await conn.execute(
        select(webhook_endpoints.c.id, webhook_endpoints.c.failing_since).where(
            webhook_endpoints.c.id.in_(endpoint_ids),
            webhook_endpoints.c.failing_since.is_not(None),
        )
    )
    return {row.id: row.failing_since for row in found}


def message_id(outbox_id: int) -> str:
    """The webhook-id header: the same on every try of one message."""
    return f"msg_{outbox_id}"


async def _forget_old_attempts(conn: AsyncConnection, endpoint_ids: set[int]) -> None:
    attempt = webhook_attempts.c
    for endpoint_id in endpoint_ids:
        oldest_kept = (
            select(attempt.id)
            .where(attempt.endpoint_id == endpoint_id)
            .order_by(attempt.id.desc())
            .offset(KEPT_ATTEMPTS - 1)
            .limit(1)
            .scalar_subquery()
        )
        await conn.execute(
            delete(webhook_attempts).where(
                attempt.endpoint_id == endpoint_id, attempt.id < oldest_kept
            )
        )
