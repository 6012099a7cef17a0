"""The push outbox: rows written with each change, claimed and finished by workers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.selectable import Exists, NamedFromClause

from passes.store.tables import (
    apple_devices,
    apple_registrations,
    google_objects,
    push_attempts,
    push_outbox,
)


@dataclass(frozen=True)
class OutboxRow:
    """One pending delivery of a card's update to one device (or to Google)."""

    id: int
    card_id: int
    target: str
    device_id: int | None
    campaign_id: int | None
    attempts: int
    push_token: str | None


@dataclass(frozen=True)
class Attempt:
    """What one delivery try answered, for the card's delivery diagnostics."""

    card_id: int
    target: str
    device: str | None
    campaign_id: int | None
    status: int | None
    reason: str | None
    outcome: str


@dataclass(frozen=True)
class _Queueing:
    """Whose pushes an enqueue queues, stamped with which time, for which campaign."""

    of_cards: Callable[[ColumnElement[Any]], ColumnElement[bool]]
    now: ColumnElement[Any]
    campaign_id: ColumnElement[Any]


def _for_one_card() -> _Queueing:
    """For the card q_card_id, at q_now, for campaign q_campaign_id (bind parameters)."""
    columns = push_outbox.c
    card_id = bindparam("q_card_id", type_=columns.card_id.type)
    return _Queueing(
        of_cards=lambda column: column == card_id,
        now=bindparam("q_now", type_=columns.created_at.type),
        campaign_id=bindparam("q_campaign_id", type_=columns.campaign_id.type),
    )


def _for_moved_cards(moved: CTE, at: ColumnElement[Any] | None) -> _Queueing:
    """For each card a batch moved in the same statement, at `at` (or the statement's time)
    and for no campaign."""
    batch = select(moved.c.card_id)
    return _Queueing(
        of_cards=lambda column: column.in_(batch),
        now=func.now() if at is None else at,
        campaign_id=literal(None, push_outbox.c.campaign_id.type),
    )


def _waiting(
    queueing: _Queueing, registrations: NamedFromClause, locking: bool
) -> tuple[Exists, Exists]:
    """Whether a row still waits for the registration's device (Apple) and for the card's
    Google object: with `locking`, only the waiting rows an UPDATE really locked count."""
    columns = push_outbox.c
    campaign_id = queueing.campaign_id
    # A plain update joins any waiting row; a campaign row only its own campaign's,
    # so no campaign message (Google's addMessage) is swallowed by an update.
    same_kind = or_(campaign_id.is_(None), columns.campaign_id == campaign_id)
    waiting_rows = and_(
        queueing.of_cards(columns.card_id), columns.claimed_until.is_(None), same_kind
    )
    if locking:
        touched = (
            update(push_outbox)
            .where(waiting_rows)
            .values(created_at=queueing.now)
            .returning(columns.card_id, columns.device_id, columns.target)
            .cte("touched")
        )
        apple_waits = exists().where(
            touched.c.target == "apple",
            touched.c.card_id == registrations.c.card_id,
            touched.c.device_id == registrations.c.device_id,
        )
        google_waits = exists().where(
            touched.c.target == "google", touched.c.card_id == google_objects.c.card_id
        )
        return apple_waits, google_waits
    apple_waits = exists().where(
        waiting_rows,
        columns.target == "apple",
        columns.card_id == registrations.c.card_id,
        columns.device_id == registrations.c.device_id,
    )
    google_waits = exists().where(
        waiting_rows, columns.target == "google", columns.card_id == google_objects.c.card_id
    )
    return apple_waits, google_waits


def build_enqueue(
    *,
    locking: bool,
    moved: CTE | None = None,
    at: ColumnElement[Any] | None = None,
    returning: bool = True,
) -> ReturningInsert[Any]:
    """One outbox row per registered device and one for Google, unless such a row still waits.

    Built once with bind parameters (q_card_id, q_now, q_campaign_id): building
    SQL per stamp costs more than running it. With `locking` (PostgreSQL) the
    waiting rows are first locked by an UPDATE, and only the rows it really
    locked count as waiting: a worker claiming one of them at the same moment
    then either waits for us (its SKIP LOCKED passes it by until we commit) or
    has claimed it already, and we queue a new row. Without the lock a worker
    could push before our commit and the phone would read the old card.
    SQLite runs one writer at a time and needs no lock.

    With `moved` (a CTE of the `card_id`s a batch of changes moved in the same
    statement, store/optimistic.py) rows are queued for each of those cards, at
    the statement's time and for no campaign, instead of for q_card_id.
    Without `returning` it can run as an executemany (one parameter set per change).
    """
    queueing = _for_one_card() if moved is None else _for_moved_cards(moved, at)
    registrations = apple_registrations.alias("r")
    apple_waits, google_waits = _waiting(queueing, registrations, locking)

    def row(card: ColumnElement[Any], target: str, device: ColumnElement[Any]) -> list[Any]:
        return [card, literal(target), device, queueing.campaign_id, literal(0), queueing.now]

    apple = select(*row(registrations.c.card_id, "apple", registrations.c.device_id)).where(
        queueing.of_cards(registrations.c.card_id), ~apple_waits
    )
    no_device = literal(None, push_outbox.c.device_id.type)
    google = select(*row(google_objects.c.card_id, "google", no_device)).where(
        queueing.of_cards(google_objects.c.card_id), ~google_waits
    )
    names = ["card_id", "target", "device_id", "campaign_id", "attempts", "created_at"]
    statement = insert(push_outbox).from_select(names, apple.union_all(google))
    return statement.returning(push_outbox.c.id) if returning else statement  # type: ignore[return-value]


ENQUEUE = build_enqueue(locking=False)
ENQUEUE_LOCKING = build_enqueue(locking=True)
ENQUEUE_MANY = build_enqueue(locking=False, returning=False)
ENQUEUE_LOCKING_MANY = build_enqueue(locking=True, returning=False)


def enqueue_params(card_id: int, now: datetime, campaign_id: int | None = None) -> dict[str, Any]:
    """The values ENQUEUE needs."""
    return {"q_card_id": card_id, "q_now": now, "q_campaign_id": campaign_id}


async def enqueue_updates(
    conn: AsyncConnection, card_id: int, now: datetime, campaign_id: int | None = None
) -> None:
    """Queue one push per registered device and one Google update, unless one already waits."""
    statement = ENQUEUE_LOCKING if conn.dialect.name == "postgresql" else ENQUEUE
    await conn.execute(statement, enqueue_params(card_id, now, campaign_id))


async def claim(
    conn: AsyncConnection,
    now: datetime,
    lease_until: datetime,
    limit: int,
    targets: Sequence[str],
) -> list[OutboxRow]:
    """Take up to `limit` due rows for a while; other workers skip them (SKIP LOCKED)."""
    due = (
        select(push_outbox.c.id)
        .where(
            or_(push_outbox.c.claimed_until.is_(None), push_outbox.c.claimed_until <= now),
            push_outbox.c.target.in_(targets),
        )
        .order_by(push_outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = (
        (
            await conn.execute(
                update(push_outbox)
                .where(push_outbox.c.id.in_(due.scalar_subquery()))
                .values(claimed_until=lease_until, attempts=push_outbox.c.attempts + 1)
                .returning(*push_outbox.c)
            )
        )
        .mappings()
        .all()
    )
    device_ids = {row["device_id"] for row in claimed if row["device_id"] is not None}
    tokens: dict[int, str] = {}
    if device_ids:
        found = await conn.execute(
            select(apple_devices.c.id, apple_devices.c.push_token).where(
                apple_devices.c.id.in_(device_ids)
            )
        )
        tokens = {row.id: row.push_token for row in found}
    rows = [
        OutboxRow(
            id=row["id"],
            card_id=row["card_id"],
            target=row["target"],
            device_id=row["device_id"],
            campaign_id=row["campaign_id"],
            attempts=row["attempts"],
            push_token=tokens.get(row["device_id"]),
        )
        for row in claimed
    ]
    return sorted(rows, key=lambda row: row.id)


async def finish(conn: AsyncConnection, ids: Sequence[int]) -> None:
    """Delivered (or given up): the rows leave the outbox."""
    if ids:
        await conn.execute(delete(push_outbox).where(push_outbox.c.id.in_(ids)))


_RETRY_AT = (
    update(push_outbox)
    .where(push_outbox.c.id == bindparam("r_id"))
    .values(claimed_until=bindparam("r_when", type_=push_outbox.c.claimed_until.type))
)


async def retry_at(conn: AsyncConnection, ids: Sequence[int], when: datetime) -> None:
    """Leave the rows for a later try (back-off, or a paused target)."""
    await retry_each(conn, [(row_id, when) for row_id in ids])


async def retry_each(conn: AsyncConnection, retries: Sequence[tuple[int, datetime]]) -> None:
    """Leave each row for a later try at its own time, in one batch."""
    if retries:
        await conn.execute(
            _RETRY_AT, [{"r_id": row_id, "r_when": when} for row_id, when in retries]
        )


async def forget_device(
    conn: AsyncConnection,
    device_id: int,
    token: str | None = None,
    gone_since: datetime | None = None,
) -> None:
    """APNs says the device's `token` is gone (since `gone_since`, a 410's timestamp): drop
    its registrations not renewed after that moment (all of them without one), their queued
    pushes, and the device once it has none left. A device that sent another token
    meanwhile keeps everything: the answer was about the old one."""
    if token is not None:
        current = await conn.execute(
            select(apple_devices.c.push_token).where(apple_devices.c.id == device_id)
        )
        if current.scalar_one_or_none() not in (token, None):
            return
    registrations = apple_registrations.c
    stale = registrations.device_id == device_id
    if gone_since is not None:
        renewed = func.coalesce(registrations.renewed_at, registrations.created_at)
        stale = and_(stale, renewed <= gone_since)
    dropped = await conn.execute(
        delete(apple_registrations).where(stale).returning(registrations.card_id)
    )
    cards = list(dropped.scalars())
    if cards:
        await conn.execute(
            delete(push_outbox).where(
                push_outbox.c.device_id == device_id, push_outbox.c.card_id.in_(cards)
            )
        )
    kept = exists().where(registrations.device_id == device_id)
    gone = await conn.execute(
        delete(apple_devices)
        .where(apple_devices.c.id == device_id, ~kept)
        .returning(apple_devices.c.id)
    )
    if gone.first() is not None:
        await conn.execute(delete(push_outbox).where(push_outbox.c.device_id == device_id))


async def record_attempts(
    conn: AsyncConnection, attempts: Sequence[Attempt], now: datetime
) -> None:
    """Keep what each try answered (bounded by the cleanup of old attempts)."""
    if attempts:
        await conn.execute(
            insert(push_attempts),
            [{**attempt.__dict__, "created_at": now} for attempt in attempts],
        )


async def pending(conn: AsyncConnection) -> int:
    """How many rows wait in the outbox (all targets)."""
    return int((await conn.execute(select(func.count()).select_from(push_outbox))).scalar_one())
