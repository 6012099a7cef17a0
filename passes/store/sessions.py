"""Queries about sign-in sessions: start one, find who holds it, end one or all of a kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import sessions, staff_members

# Kinds of session: the staff page, the dashboard, and a counter page (web/counter.py, signed
# in by a manager for one branch).
STAFF = "staff"
OWNER = "owner"
COUNTER = "counter"


@dataclass(frozen=True)
class SessionRow:
    """A live session: its shop, the person (None: the key's owner or the shared PIN), the
    person's name and role as they are now, and the branch it works for."""

    shop_id: int
    staff_id: int | None
    name: str | None
    role: str | None
    branch_id: int | None


async def start_session(
    conn: AsyncConnection,
    token_hash: str,
    shop_id: int,
    kind: str,
    now: datetime,
    ends: datetime,
    *,
    staff_id: int | None = None,
    branch_id: int | None = None,
) -> None:
    """Record a new session (and forget the shop's expired ones of that kind)."""
    await conn.execute(
        delete(sessions).where(
            sessions.c.shop_id == shop_id, sessions.c.kind == kind, sessions.c.expires_at <= now
        )
    )
    await conn.execute(
        insert(sessions).values(
            token_hash=token_hash,
            shop_id=shop_id,
            kind=kind,
            created_at=now,
            expires_at=ends,
            staff_id=staff_id,
            branch_id=branch_id,
        )
    )


_SESSION = select(
    sessions.c.shop_id,
    sessions.c.staff_id,
    staff_members.c.name,
    staff_members.c.role,
    sessions.c.branch_id,
).select_from(sessions.outerjoin(staff_members, staff_members.c.id == sessions.c.staff_id))


async def session_of(
    conn: AsyncConnection, token_hash: str, kind: str, now: datetime
) -> SessionRow | None:
    """The live session of this kind with that token, or None."""
    query = _SESSION.where(
        sessions.c.token_hash == token_hash, sessions.c.kind == kind, sessions.c.expires_at > now
    )
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else SessionRow(**row)


async def end_session(conn: AsyncConnection, token_hash: str) -> None:
    """End one session (logout)."""
    await conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))


async def end_sessions(conn: AsyncConnection, shop_id: int, kind: str) -> int:
    """End every session of this kind for the shop; returns how many there were."""
    result = await conn.execute(
        delete(sessions).where(sessions.c.shop_id == shop_id, sessions.c.kind == kind)
    )
    return int(result.rowcount or 0)
