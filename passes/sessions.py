"""Sign-in sessions kept in the database: the cookie holds a random token, the database its
SHA-256, so logout, a new PIN and a new API key end sessions at once in every process, and no
cookie carries key material."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store import Store
from passes.store.sessions import (
    COUNTER,
    OWNER,
    STAFF,
    SessionRow,
    end_session,
    session_of,
    start_session,
)

__all__ = ["COUNTER", "OWNER", "SESSION_TIME", "STAFF", "SessionBook", "open_session"]
SESSION_TIME = timedelta(hours=12)


def token_hash(token: str) -> str:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(
    conn: AsyncConnection,
    shop_id: int,
    kind: str,
    *,
    staff_id: int | None = None,
    branch_id: int | None = None,
) -> str:
    """Start a session inside the caller's transaction; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    await start_session(
        conn,
        token_hash(token),
        shop_id,
        kind,
        now,
        now + SESSION_TIME,
        staff_id=staff_id,
        branch_id=branch_id,
    )
    return token


class SessionBook:
    """Checking and ending sessions."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def signed_in(self, token: object, kind: str) -> SessionRow | None:
        """The live session of this kind (its shop, person and branch), or None."""
        if not isinstance(token, str) or not token:
            return None
        async with self.store.reading() as conn:
            return await session_of(conn, token_hash(token), kind, datetime.now(UTC))

    async def shop_id(self, token: object, kind: str) -> int | None:
        """The shop a live session of this kind belongs to, or None."""
        found = await self.signed_in(token, kind)
        return None if found is None else found.shop_id

    async def end(self, token: object) -> None:
        """Logout: the session's cookie is refused from now on, wherever it is replayed."""
        if isinstance(token, str) and token:
            async with self.store.transaction() as conn:
                await end_session(conn, token_hash(token))
