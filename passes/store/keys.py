"""Queries about shops' API keys: find a live one (locked for a sign-in), revoke, add."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import api_keys


async def key_holder(conn: AsyncConnection, key_hash: str) -> int | None:
    """The shop id of the live key with this hash, its row locked until the transaction ends
    (so a rotation waits for a sign-in in progress and then ends its session too)."""
    query = (
        select(api_keys.c.shop_id)
        .where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
        .with_for_update()
    )
    shop_id: int | None = (await conn.execute(query)).scalar_one_or_none()
    return shop_id


async def revoke_keys(conn: AsyncConnection, shop_id: int, now: datetime) -> int:
    """Revoke every live key of the shop; returns how many."""
    result = await conn.execute(
        update(api_keys)
        .where(api_keys.c.shop_id == shop_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


async def add_key(
    conn: AsyncConnection, shop_id: int, key_hash: str, prefix: str, now: datetime
) -> None:
    """A new live key for the shop."""
    await conn.execute(
        insert(api_keys).values(shop_id=shop_id, key_hash=key_hash, prefix=prefix, created_at=now)
    )
