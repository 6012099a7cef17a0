"""Optional personal data of a card's holder, kept only with consent and erasable on request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import card_customers, cards


async def save_customer(
    conn: AsyncConnection, card_id: int, name: str | None, email: str | None, now: datetime
) -> None:
    """Keep what the customer chose to give, with the moment of consent."""
    await conn.execute(
        insert(card_customers).values(card_id=card_id, name=name, email=email, consent_at=now)
    )


async def save_birthday(
    conn: AsyncConnection, card_id: int, birthday: tuple[int, int] | None, now: datetime
) -> None:
    """Keep (or, None, forget) the birth day and month the customer gave, with the moment of
    consent. The caller holds the card's lock, so two saves never both insert."""
    day, month = birthday or (None, None)
    values: dict[str, object] = {"birth_day": day, "birth_month": month}
    if birthday is not None:
        values["consent_at"] = now
    where = card_customers.c.card_id == card_id
    updated = await conn.execute(update(card_customers).where(where).values(values))
    if not updated.rowcount and birthday is not None:
        await conn.execute(insert(card_customers).values(card_id=card_id, **values))


async def birthday_of(conn: AsyncConnection, card_id: int) -> tuple[int, int] | None:
    """The card holder's birth (day, month), if they gave it."""
    query = select(card_customers.c.birth_day, card_customers.c.birth_month)
    row = (await conn.execute(query.where(card_customers.c.card_id == card_id))).first()
    if row is None or row.birth_day is None or row.birth_month is None:
        return None
    return int(row.birth_day), int(row.birth_month)


async def customer_of(conn: AsyncConnection, card_id: int) -> dict[str, Any] | None:
    """The card's personal data, for export (a birthday as ISO 8601 "--MM-DD", no year)."""
    c = card_customers.c
    query = select(c.name, c.email, c.consent_at, c.birth_day, c.birth_month)
    row = (await conn.execute(query.where(c.card_id == card_id))).first()
    if row is None:
        return None
    found = {"name": row.name, "email": row.email, "consent_at": row.consent_at.isoformat()}
    if row.birth_day is not None and row.birth_month is not None:
        found["birthday"] = f"--{row.birth_month:02d}-{row.birth_day:02d}"
    return found


async def erase_customer(conn: AsyncConnection, card_id: int) -> bool:
    """Delete the card's personal data; the anonymous ledger stays for the figures."""
    result = await conn.execute(delete(card_customers).where(card_customers.c.card_id == card_id))
    return bool(result.rowcount)


@dataclass(frozen=True)
class BirthdayCard:
    """A card whose holder gave their birthday, and the year it last had the bonus."""

    card_id: int
    day: int
    month: int
    given_year: int | None


async def birthday_cards(
    conn: AsyncConnection, program_id: int, days: Sequence[tuple[int, int]]
) -> list[BirthdayCard]:
    """The program's live cards whose holders were born on one of `days` (month, day)."""
    c = card_customers.c
    born = or_(*(and_(c.birth_month == month, c.birth_day == day) for month, day in days))
    query = (
        select(cards.c.id, c.birth_day, c.birth_month, cards.c.birthday_given_year)
        .join(cards, cards.c.id == c.card_id)
        .where(cards.c.program_id == program_id, cards.c.voided.is_(False), born)
        .order_by(cards.c.id)
    )
    rows = await conn.execute(query)
    return [
        BirthdayCard(row.id, int(row.birth_day), int(row.birth_month), row.birthday_given_year)
        for row in rows
    ]


async def mark_birthday_given(conn: AsyncConnection, card_id: int, year: int) -> bool:
    """Record that the card had the bonus of the birthday in `year`; False when it had it
    already. A conditional update: of two workers at once, one wins (the other's UPDATE
    waits for the row and then finds it no longer matching)."""
    given = cards.c.birthday_given_year
    query = (
        update(cards)
        .where(cards.c.id == card_id, or_(given.is_(None), given != year))
        .values(birthday_given_year=year)
    )
    return bool((await conn.execute(query)).rowcount)
