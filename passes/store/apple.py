"""Queries for the Apple Wallet web service: devices, registrations, update tags, logs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import (
    apple_devices,
    apple_registrations,
    cards,
    device_logs,
    push_attempts,
    push_outbox,
)

DEVICE_LOGS_KEPT = 20
ATTEMPTS_SHOWN = 50
# Devices a card's updates go to: a real person has a phone and maybe a watch.
DEVICES_PER_CARD = 5
_LOCK_CARD = (
    select(cards.c.id).where(cards.c.id == bindparam("card_id")).with_for_update(key_share=True)
)


def _insert(conn: AsyncConnection):  # type: ignore[no-untyped-def]
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


async def register(
    conn: AsyncConnection,
    library_id: str,
    push_token: str,
    card_id: int,
    now: datetime,
    keep: int = DEVICES_PER_CARD,
) -> bool:
    """Remember the device (its newest push token) for this card, renewed now; True when new.

    The card keeps this device and its `keep - 1` most recently renewed others: older ones
    are dropped with their pushes, so no card fans a stamp out to thousands of devices.
    """
    # One registration of a card at a time (PostgreSQL), so concurrent ones cannot each see
    # room and together pass the limit; SQLite's single writer already serialises them.
    await conn.execute(_LOCK_CARD, {"card_id": card_id})
    upsert = _insert(conn)(apple_devices).values(
        library_id=library_id, push_token=push_token, created_at=now
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=["library_id"], set_={"push_token": push_token}
    ).returning(apple_devices.c.id)
    device_id = (await conn.execute(upsert)).scalar_one()
    renewed = await conn.execute(
        update(apple_registrations)
        .where(
            apple_registrations.c.device_id == device_id,
            apple_registrations.c.card_id == card_id,
        )
        .values(renewed_at=now)
    )
    created = False
    if not renewed.rowcount:
        link = _insert(conn)(apple_registrations).values(
            device_id=device_id, card_id=card_id, created_at=now, renewed_at=now
        )
        created = bool((await conn.execute(link.on_conflict_do_nothing())).rowcount)
    await _keep_newest(conn, card_id, device_id, keep)
    return created


async def is_registered(conn: AsyncConnection, library_id: str, card_id: int) -> bool:
    """The device is registered for this card (a registration now would renew it)."""
    found = await conn.execute(
        select(apple_registrations.c.device_id)
        .join(apple_devices, apple_devices.c.id == apple_registrations.c.device_id)
        .where(apple_devices.c.library_id == library_id, apple_registrations.c.card_id == card_id)
    )
    return found.first() is not None


async def _keep_newest(conn: AsyncConnection, card_id: int, device_id: int, keep: int) -> None:
    """Drop the card's registrations beyond `device_id` and the `keep - 1` newest others."""
    links = apple_registrations.c
    renewed = func.coalesce(links.renewed_at, links.created_at)
    others = and_(links.card_id == card_id, links.device_id != device_id)
    newest = (
        select(links.device_id)
        .where(others)
        .order_by(renewed.desc(), links.device_id.desc())
        .limit(max(keep - 1, 0))
    )
    dropped = await conn.execute(
        delete(apple_registrations)
        .where(others, links.device_id.not_in(newest.scalar_subquery()))
        .returning(links.device_id)
    )
    gone = list(dropped.scalars())
    if not gone:
        return
    await conn.execute(
        delete(push_outbox).where(
            push_outbox.c.card_id == card_id, push_outbox.c.device_id.in_(gone)
        )
    )
    await _forget_unused_devices(conn, gone)


async def _forget_unused_devices(conn: AsyncConnection, device_ids: list[int]) -> None:
    """Delete those of the devices no card holds any more. Devices another transaction has
    locked (it is registering them) are left alone, and the lock comes before the check:
    a registration committed meanwhile is seen, none can start until we commit."""
    devices = apple_devices.c
    unused = ~exists().where(apple_registrations.c.device_id == devices.id)
    locked = await conn.execute(
        select(devices.id)
        .where(devices.id.in_(device_ids))
        .with_for_update(of=apple_devices, skip_locked=True)
    )
    ids = list(locked.scalars())
    if ids:
        await conn.execute(delete(apple_devices).where(devices.id.in_(ids), unused))


async def unregister(conn: AsyncConnection, library_id: str, card_id: int) -> None:
    """Forget the device for this card (the device removed the pass)."""
    device = select(apple_devices.c.id).where(apple_devices.c.library_id == library_id)
    await conn.execute(
        delete(apple_registrations).where(
            apple_registrations.c.card_id == card_id,
            apple_registrations.c.device_id.in_(device.scalar_subquery()),
        )
    )


async def serials_since(
    conn: AsyncConnection, library_id: str, tag: int | None
) -> tuple[list[str], int]:
    """Serials of the device's cards changed since `tag`, and the tag to ask with next.

    SQLite tags are ledger ids in commit order: the newest one is the next tag.
    PostgreSQL tags are writer transaction ids; the next tag is the oldest
    transaction still running, so nothing committing later can fall behind it.
    Reporting a card twice is harmless: the device asks with If-Modified-Since.
    """
    postgres = conn.dialect.name == "postgresql"
    query = (
        select(cards.c.serial, cards.c.update_tag)
        .join(apple_registrations, apple_registrations.c.card_id == cards.c.id)
        .join(apple_devices, apple_devices.c.id == apple_registrations.c.device_id)
        .where(apple_devices.c.library_id == library_id)
    )
    if tag is not None:
        query = query.where(cards.c.update_tag >= tag if postgres else cards.c.update_tag > tag)
    if postgres:
        horizon: ColumnElement[int] = literal_column(
            "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        )
        query = query.add_columns(horizon.label("horizon"))
    rows = (await conn.execute(query.order_by(cards.c.serial))).all()
    if not rows:
        return [], tag or 0
    next_tag = rows[0].horizon if postgres else max(row.update_tag for row in rows)
    return [row.serial for row in rows], int(next_tag)


async def add_device_log(
    conn: AsyncConnection,
    card_id: int | None,
    message: str,
    now: datetime,
    *,
    verified: bool = False,
) -> None:
    """Keep a device's log line, and only the newest few per card: the verified ones (from a
    sender that proved the card) and the unverified ones each, so anyone's lines never push
    out the card's own."""
    await conn.execute(
        device_logs.insert().values(
            card_id=card_id, message=message, created_at=now, verified=verified
        )
    )
    owner = and_(
        device_logs.c.card_id == card_id
        if card_id is not None
        else device_logs.c.card_id.is_(None),
        device_logs.c.verified == verified,
    )
    keep = (
        select(device_logs.c.id)
        .where(owner)
        .order_by(device_logs.c.id.desc())
        .limit(DEVICE_LOGS_KEPT)
    )
    await conn.execute(
        delete(device_logs).where(owner, device_logs.c.id.not_in(keep.scalar_subquery()))
    )


@dataclass(frozen=True)
class Deliveries:
    """What we know about getting one card's updates onto phones."""

    devices: list[dict[str, object]]
    attempts: list[dict[str, object]]
    logs: list[dict[str, object]]
    pending: int
    unverified_logs: list[dict[str, object]] = field(default_factory=list)


async def deliveries(conn: AsyncConnection, card_id: int) -> Deliveries:
    """Devices registered for the card, recent push attempts, device logs, pushes waiting."""
    devices = await conn.execute(
        select(
            apple_devices.c.library_id,
            apple_devices.c.push_token,
            apple_registrations.c.created_at,
        )
        .join(apple_registrations, apple_registrations.c.device_id == apple_devices.c.id)
        .where(apple_registrations.c.card_id == card_id)
        .order_by(apple_registrations.c.created_at)
    )
    attempts = await conn.execute(
        select(push_attempts)
        .where(push_attempts.c.card_id == card_id)
        .order_by(push_attempts.c.id.desc())
        .limit(ATTEMPTS_SHOWN)
    )
    logs = (
        await conn.execute(
            select(device_logs.c.message, device_logs.c.created_at, device_logs.c.verified)
            .where(device_logs.c.card_id == card_id)
            .order_by(device_logs.c.id.desc())
        )
    ).all()
    waiting = await conn.execute(
        select(func.count()).select_from(push_outbox).where(push_outbox.c.card_id == card_id)
    )
    return Deliveries(
        devices=[
            {
                "device": _short(row.library_id),
                "push_token": _short(row.push_token),
                "registered_at": row.created_at.isoformat(),
            }
            for row in devices
        ],
        attempts=[
            {
                "at": row.created_at.isoformat(),
                "target": row.target,
                "device": row.device,
                "status": row.status,
                "reason": row.reason,
                "outcome": row.outcome,
            }
            for row in attempts
        ],
        logs=_log_lines(row for row in logs if row.verified),
        pending=int(waiting.scalar_one()),
        unverified_logs=_log_lines(row for row in logs if not row.verified),
    )


def _log_lines(rows: Iterable[Any]) -> list[dict[str, object]]:
    return [{"at": row.created_at.isoformat(), "message": row.message} for row in rows]


def _short(secretish: str) -> str:
    """Device ids and push tokens are shown only by their start."""
    return secretish[:8] + "…"
