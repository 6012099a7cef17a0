"""Customer feedback: one question (1–5 stars, optional words) after each redemption."""

from __future__ import annotations

from datetime import UTC, datetime

from passes.errors import Conflict, InvalidInput
from passes.store import Store
from passes.store.cards import CardRow
from passes.store.feedback import FeedbackSummary, add_answer, has_answered, summary

MAX_TEXT = 500
STARS = ("1", "2", "3", "4", "5")


def check_answer(stars: str, text: str) -> tuple[int, str | None]:
    """The answer as stored: stars 1 to 5, the words trimmed (None when there are none)."""
    if stars not in STARS:
        raise InvalidInput("stars must be 1 to 5")
    words = text.strip()
    if len(words) > MAX_TEXT:
        raise InvalidInput(f"the text must be at most {MAX_TEXT} characters")
    return int(stars), words or None


class FeedbackBox:
    """Takes customers' answers and sums them up for the shop."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def may_answer(card: CardRow) -> bool:
        """Only a card that has had a reward is asked (and a voided one no more)."""
        return card.counters.rewards_redeemed > 0 and not card.counters.voided

    async def answered(self, card: CardRow) -> bool:
        """Whether the card answered for its latest redemption."""
        async with self.store.reading() as conn:
            return await has_answered(conn, card.id, card.counters.rewards_redeemed)

    async def give(self, card: CardRow, stars: str, text: str) -> bool:
        """Store the answer for the card's latest redemption; False when it was given before."""
        if not self.may_answer(card):
            raise InvalidInput("feedback is asked for after a redemption")
        checked_stars, words = check_answer(stars, text)
        try:
            async with self.store.transaction() as conn:
                await add_answer(
                    conn,
                    shop_id=card.shop_id,
                    card_id=card.id,
                    redemption=card.counters.rewards_redeemed,
                    stars=checked_stars,
                    text=words,
                    now=datetime.now(UTC),
                )
        except Conflict:
            return False
        return True

    async def summary(self, shop_id: int) -> FeedbackSummary:
        """The shop's figures for the dashboard."""
        async with self.store.reading() as conn:
            return await summary(conn, shop_id)
