"""What one stamp gave: the stamps asked for and the bonus stamps that came with them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import card_events

# A stamp's follow-ups (a promotion's extra, a referral bonus, the long-standing bonus) are
# written right after it in its transaction; a few rows back cover them all.
LOOK_BACK = 8
PROMOTION = "promotion:"


@dataclass(frozen=True)
class StampReceipt:
    """Stamps given at one tap: asked for, a promotion's extra (with its factor), other bonus."""

    stamps: int
    promotion: int = 0
    multiplier: int = 1
    bonus: int = 0

    @property
    def total(self) -> int:
        """Everything the card gained."""
        return self.stamps + self.promotion + self.bonus


def receipt_of(latest_first: Sequence[tuple[str, int, str]]) -> StampReceipt | None:
    """The receipt from a card's latest events (kind, count, actor; newest first): the bonus
    events back to the stamp they followed. None when the latest change was no stamp."""
    promotion = bonus = 0
    for kind, count, actor in latest_first:
        if kind == "stamp":
            multiplier = 1 + promotion // count if promotion and count else 1
            return StampReceipt(count, promotion, multiplier, bonus)
        if kind != "bonus":
            return None
        if actor.startswith(PROMOTION):
            promotion += count
        else:
            bonus += count
    return None


async def stamp_receipt(
    conn: AsyncConnection, card_id: int, last_event_id: int
) -> StampReceipt | None:
    """What the stamp behind the card's change `last_event_id` gave, with its bonus stamps."""
    events = card_events.c
    query = (
        select(events.kind, events.count, events.actor)
        .where(events.card_id == card_id, events.id <= last_event_id)
        .order_by(events.id.desc())
        .limit(LOOK_BACK)
    )
    rows = (await conn.execute(query)).all()
    return receipt_of([(str(kind), int(count), str(actor)) for kind, count, actor in rows])
