"""Queries about sign-in sessions: start one, find its shop, end one or all of a kind."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import sessions


async def start_session(
    conn: AsyncConnection, token_hash: str, shop_id: int, kind: str, now: datetime, ends: datetime
) -> None:
    """Record a new session (and forget the shop's expired ones of that kind)."""
    await conn.execute(
        delete(sessions).where(
            sessions.c.shop_id == shop_id, sessions.c.kind == kind, sessions.c.expires_at <= now
        )
    )
    await conn.execute(
        insert(sessions).values(
            token_hash=token_hash, shop_id=shop_id, kind=kind, created_at=now, expires_at=ends
        )
    )


async def session_shop(
    conn: AsyncConnection, token_hash: str, kind: str, now: datetime
) -> int | None:
    """The shop id of a live session of this kind, or None."""
    query = select(sessions.c.shop_id).where(
        sessions.c.token_hash == token_hash, sessions.c.kind == kind, sessions.c.expires_at > now
    )
    shop_id: int | None = (await conn.execute(query)).scalar_one_or_none()
    return shop_id


async def end_session(conn: AsyncConnection, token_hash: str) -> None:
    """End one session (logout)."""
    await conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))


async def end_sessions(conn: AsyncConnection, shop_id: int, kind: str) -> int:
    """End every session of this kind for the shop; returns how many there were."""
    result = await conn.execute(
        delete(sessions).where(sessions.c.shop_id == shop_id, sessions.c.kind == kind)
    )
    return int(result.rowcount or 0)
