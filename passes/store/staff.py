"""Queries about staff PINs: the hash and its version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import staff_pins


@dataclass(frozen=True)
class PinRow:
    """A shop's staff PIN as stored."""

    pin_hash: str
    failed_attempts: int
    locked_until: datetime | None
    version: int


async def pin_of(conn: AsyncConnection, shop_id: int, *, lock: bool = False) -> PinRow | None:
    """The shop's PIN row (locked for update when asked), or None when no PIN is set."""
    query = select(staff_pins).where(staff_pins.c.shop_id == shop_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        return None
    return PinRow(row["pin_hash"], row["failed_attempts"], row["locked_until"], row["pin_version"])


async def save_pin(conn: AsyncConnection, shop_id: int, pin_hash: str, now: datetime) -> None:
    """Set (or replace) the PIN; clears failed tries and the lock, and signs staff out."""
    current = await pin_of(conn, shop_id, lock=True)
    values = dict(pin_hash=pin_hash, failed_attempts=0, locked_until=None, updated_at=now)
    if current is None:
        await conn.execute(insert(staff_pins).values(shop_id=shop_id, pin_version=1, **values))
        return
    await conn.execute(
        update(staff_pins)
        .where(staff_pins.c.shop_id == shop_id)
        .values(pin_version=current.version + 1, **values)
    )
