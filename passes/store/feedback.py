"""Queries about customers' feedback: one answer per card and redemption, a shop's summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.errors import Conflict
from passes.store.tables import feedback

LATEST = 10


@dataclass(frozen=True)
class Answer:
    """One customer's answer."""

    stars: int
    text: str | None
    created_at: datetime


@dataclass(frozen=True)
class FeedbackSummary:
    """What the dashboard shows: the average, how many answered, the latest written words."""

    count: int
    average: float | None
    latest: list[Answer]


async def add_answer(
    conn: AsyncConnection,
    *,
    shop_id: int,
    card_id: int,
    redemption: int,
    stars: int,
    text: str | None,
    now: datetime,
) -> None:
    """Store an answer; Conflict when this card already answered for this redemption
    (the transaction is then spoilt: let it end)."""
    values = dict(shop_id=shop_id, card_id=card_id, redemption=redemption, stars=stars, text=text)
    try:
        await conn.execute(insert(feedback).values(**values, created_at=now))
    except IntegrityError as exc:
        raise Conflict("this card has answered already", "feedback_given") from exc


async def has_answered(conn: AsyncConnection, card_id: int, redemption: int) -> bool:
    """Whether the card answered for this redemption already."""
    query = select(feedback.c.id).where(
        feedback.c.card_id == card_id, feedback.c.redemption == redemption
    )
    return (await conn.execute(query)).first() is not None


async def summary(conn: AsyncConnection, shop_id: int) -> FeedbackSummary:
    """The shop's answer count, average stars and latest LATEST written answers."""
    totals = select(func.count(), func.avg(feedback.c.stars)).where(feedback.c.shop_id == shop_id)
    count, average = (await conn.execute(totals)).one()
    latest = (
        select(feedback.c.stars, feedback.c.text, feedback.c.created_at)
        .where(feedback.c.shop_id == shop_id, feedback.c.text.is_not(None))
        .order_by(feedback.c.id.desc())
        .limit(LATEST)
    )
    answers = [Answer(*row) for row in (await conn.execute(latest)).all()]
    return FeedbackSummary(count, None if average is None else float(average), answers)
