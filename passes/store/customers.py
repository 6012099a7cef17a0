"""Optional personal data of a card's holder, kept only with consent and erasable on request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import card_customers


async def save_customer(
    conn: AsyncConnection, card_id: int, name: str | None, email: str | None, now: datetime
) -> None:
    """Keep what the customer chose to give, with the moment of consent."""
    await conn.execute(
        insert(card_customers).values(card_id=card_id, name=name, email=email, consent_at=now)
    )


async def customer_of(conn: AsyncConnection, card_id: int) -> dict[str, Any] | None:
    """The card's personal data, for export."""
    query = select(card_customers.c.name, card_customers.c.email, card_customers.c.consent_at)
    row = (await conn.execute(query.where(card_customers.c.card_id == card_id))).first()
    if row is None:
        return None
    return {"name": row.name, "email": row.email, "consent_at": row.consent_at.isoformat()}


async def erase_customer(conn: AsyncConnection, card_id: int) -> bool:
    """Delete the card's personal data; the anonymous ledger stays for the figures."""
    result = await conn.execute(delete(card_customers).where(card_customers.c.card_id == card_id))
    return bool(result.rowcount)
