"""Campaigns: messages to a segment of a shop's cards, with a hold-out group and a weekly limit."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from passes import loyalty
from passes.errors import InvalidInput
from passes.store import Store
from passes.store.campaigns import (
    ActivityRow,
    activity,
    create_campaign,
    history,
)
from passes.store.cards import Change, Counters, apply_change, lock_card_by_id
from passes.store.shops import ShopRow

Pick = Callable[[list[int], int], list[int]]
MAX_SCHEDULE = timedelta(days=30)
MAX_BONUS = 3
# Cards per transaction when surprise stamps go out: short locks, bounded work per commit.
BONUS_BATCH = 200


def _now() -> datetime:
    return datetime.now(UTC)


def _as_activity(row: ActivityRow) -> loyalty.Activity:
    return loyalty.Activity(**row.__dict__)


class Campaigns:
    """Preview, send and account for campaign messages; delivery runs in the push worker."""

    def __init__(
        self, store: Store, on_commit: Callable[[], None], pick: Pick | None = None
    ) -> None:
        self.store = store
        self.on_commit = on_commit
        self.pick: Pick = pick or random.SystemRandom().sample

    async def audience(self, shop: ShopRow, segment: str) -> loyalty.Audience:
        """Who would receive a message to `segment` now, who is held out, who is at the limit."""
        async with self.store.reading() as conn:
            rows = await activity(conn, shop.id, _now())
        program = shop.program
        try:
            return loyalty.audience(
                segment,
                [_as_activity(row) for row in rows],
                _now(),
                messages_per_week=program.messages_per_week,
                holdout_share=program.holdout_percent / 100,
                pick=self.pick,
            )
        except loyalty.Refused as exc:
            raise InvalidInput(str(exc)) from exc

    async def send(
        self,
        shop: ShopRow,
        text: str,
        segment: str,
        send_at: datetime | None = None,
        bonus: int = 0,
    ) -> tuple[int, loyalty.Audience]:
        """Record the campaign and its members; the worker puts the message on each card,
        at once or at `send_at` (the segment is taken now, when the owner decides).

        `bonus` surprise stamps go onto every recipient's card right away, as ledger
        events of their own, so the pass and the figures show them like any stamp.
        """
        try:
            message = loyalty.check_message(text)
        except loyalty.Refused as exc:
            raise InvalidInput(str(exc)) from exc
        if send_at is not None and not _now() <= send_at <= _now() + MAX_SCHEDULE:
            raise InvalidInput("send_at must be in the future, at most 30 days ahead")
        if not 0 <= bonus <= MAX_BONUS or (bonus and send_at is not None):
            raise InvalidInput(f"bonus stamps must be 0 to {MAX_BONUS}, and are given at once")
        chosen = await self.audience(shop, segment)
        async with self.store.transaction() as conn:
            campaign_id = await create_campaign(
                conn,
                shop.id,
                message,
                segment,
                recipients=chosen.recipients,
                held_out=chosen.held_out,
                over_limit=len(chosen.over_limit),
                now=_now(),
                send_at=send_at,
            )
        if bonus:
            await self._give_bonus(shop, campaign_id, chosen.recipients, bonus)
        self.on_commit()
        return campaign_id, chosen

    async def _give_bonus(
        self, shop: ShopRow, campaign_id: int, card_ids: list[int], bonus: int
    ) -> None:
        program = loyalty.Program(shop.program.stamps_required, shop.program.reward)
        for start in range(0, len(card_ids), BONUS_BATCH):
            async with self.store.transaction() as conn:
                for card_id in card_ids[start : start + BONUS_BATCH]:
                    card = await lock_card_by_id(conn, card_id)
                    if card.counters.voided:
                        continue
                    state = loyalty.CardState(**card.counters.__dict__)
                    after = loyalty.stamp(program, state, bonus)
                    change = Change(
                        "bonus", bonus, f"campaign:{campaign_id}", Counters(**after.__dict__)
                    )
                    await apply_change(conn, card, change, _now())

    async def history(self, shop: ShopRow) -> list[dict[str, Any]]:
        """The shop's campaigns with their delivery figures."""
        async with self.store.reading() as conn:
            return await history(conn, shop.id)
