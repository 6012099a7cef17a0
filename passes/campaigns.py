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
from passes.store.shops import ShopRow

Pick = Callable[[list[int], int], list[int]]
MAX_SCHEDULE = timedelta(days=30)


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
        self, shop: ShopRow, text: str, segment: str, send_at: datetime | None = None
    ) -> tuple[int, loyalty.Audience]:
        """Record the campaign and its members; the worker puts the message on each card,
        at once or at `send_at` (the segment is taken now, when the owner decides)."""
        try:
            message = loyalty.check_message(text)
        except loyalty.Refused as exc:
            raise InvalidInput(str(exc)) from exc
        if send_at is not None and not _now() <= send_at <= _now() + MAX_SCHEDULE:
            raise InvalidInput("send_at must be in the future, at most 30 days ahead")
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
        self.on_commit()
        return campaign_id, chosen

    async def history(self, shop: ShopRow) -> list[dict[str, Any]]:
        """The shop's campaigns with their delivery figures."""
        async with self.store.reading() as conn:
            return await history(conn, shop.id)
