"""Campaigns: messages to a segment of a shop's cards, with a hold-out group and a weekly limit."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from passes import bonus_rules, campaign_rules, loyalty
from passes.clock import Clock, system_clock
from passes.errors import InvalidInput
from passes.google.budget import Budget
from passes.store import Store
from passes.store.campaigns import (
    activity,
    create_campaign,
    due_campaigns,
    history,
    resolve_campaign,
)
from passes.store.card_changes import apply_change
from passes.store.cards import lock_card_by_id
from passes.store.google import saved_notify_times
from passes.store.ledger import Change
from passes.store.promotions import PromotionWindow
from passes.store.shops import ShopRow, shop_by_id
from passes.texts import counted, text

Pick = Callable[[list[int], int], list[int]]
# Cards per transaction when surprise stamps go out: short locks, bounded work per commit.
BONUS_BATCH = 200
# Scheduled campaigns whose segment one worker round takes.
RESOLVE_BATCH = 10


@dataclass(frozen=True)
class GoogleReach:
    """Of a campaign's recipients, those in Google Wallet: how many Google will notify, and
    how many get the message silently (their pass used Google's 3 notifications a day)."""

    notified: int
    silent: int


@dataclass(frozen=True)
class PromotionRequest:
    """Stamps on the recipients' cards count `multiplier` times from `starts` (None: now) to `ends`."""

    multiplier: int
    starts: datetime | None
    ends: datetime | None


def counts(segment: str, chosen: campaign_rules.Audience) -> dict[str, Any]:
    """An audience as the figures a campaign keeps (see nobody_reason)."""
    return {
        "segment": segment,
        "recipients": len(chosen.recipients),
        "held_out": len(chosen.held_out),
        "over_limit": len(chosen.over_limit),
    }


def nobody_reason(figures: Mapping[str, Any], shop: ShopRow, lang: str) -> str:
    """Why a campaign reaches no card ("0 cards: 12 in the group, all 12 reached the weekly
    limit of 2 messages."), from its segment, held_out and over_limit counts."""
    held, over = int(figures["held_out"]), int(figures["over_limit"])
    members = held + over + int(figures["recipients"])
    per_week = shop.program.messages_per_week
    limit = counted("n_messages", per_week, lang).format(n=per_week)
    if members == 0:
        key = "nobody_empty"
    elif over == members:
        key = "nobody_at_limit_one" if members == 1 else "nobody_at_limit"
    else:
        key = "nobody_mixed"
    segment = str(figures["segment"])
    named = text(f"segment_{segment}", lang) if segment in campaign_rules.SEGMENTS else segment
    said = text(key, lang).format(members=members, over=over, held=held, limit=limit, segment=named)
    return f"{said} {text('nobody_limit_hint', lang)}" if over else said


class Campaigns:
    """Preview, send and account for campaign messages; delivery runs in the push worker."""

    def __init__(
        self,
        store: Store,
        on_commit: Callable[[], None],
        pick: Pick | None = None,
        on_promotion: Callable[[int], None] | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.store = store
        # Decides schedules, promotion windows and the ledger's times (see passes/clock.py).
        self.clock = clock
        self.on_commit = on_commit
        self.pick: Pick = pick or random.SystemRandom().sample
        # Tells this process's stamp path that the shop has a new promotion (see Service).
        self.on_promotion = on_promotion or (lambda shop_id: None)

    async def audience(self, shop: ShopRow, segment: str) -> campaign_rules.Audience:
        """Who would receive a message to `segment` now, who is held out, who is at the limit."""
        async with self.store.reading() as conn:
            rows = await activity(conn, shop.id, self.clock())
        return self._choose(shop, segment, rows)

    async def google_reach(self, shop: ShopRow, recipients: Sequence[int]) -> GoogleReach:
        """How the recipients in Google Wallet would get a message sent now."""
        async with self.store.reading() as conn:
            saved = await saved_notify_times(conn, shop.id)
        now, chosen = self.clock(), set(recipients)
        budgets = [Budget.decode(times) for card_id, times in saved.items() if card_id in chosen]
        notified = sum(1 for budget in budgets if budget.allows(now))
        return GoogleReach(notified, len(budgets) - notified)

    def _choose(
        self, shop: ShopRow, segment: str, rows: list[campaign_rules.Activity]
    ) -> campaign_rules.Audience:
        program = shop.program
        return campaign_rules.audience(
            segment,
            rows,
            self.clock(),
            messages_per_week=program.messages_per_week,
            holdout_share=program.holdout_percent / 100,
            pick=self.pick,
        )

    async def send(
        self,
        shop: ShopRow,
        text: str,
        segment: str,
        send_at: datetime | None = None,
        bonus: int = 0,
        promotion: PromotionRequest | None = None,
    ) -> tuple[int, campaign_rules.Audience]:
        """Record the campaign; the worker puts the message on each card, at once or at
        `send_at`. A scheduled campaign takes its segment (hold-out, weekly limit) when it
        is sent; the audience returned for it is what the segment would be now.

        `bonus` surprise stamps go onto every recipient's card right away, as ledger
        events of their own, so the pass and the figures show them like any stamp.
        A `promotion` multiplies the recipients' stamps during its window.
        """
        message, window = self.check(text, send_at, bonus, promotion)
        chosen = await self.audience(shop, segment)
        later = send_at is not None
        async with self.store.transaction() as conn:
            campaign_id = await create_campaign(
                conn,
                shop.id,
                message,
                segment,
                recipients=[] if later else chosen.recipients,
                held_out=[] if later else chosen.held_out,
                over_limit=0 if later else len(chosen.over_limit),
                now=self.clock(),
                send_at=send_at,
                resolved=not later,
                promotion=window,
            )
        if bonus:
            await self._give_bonus(shop, campaign_id, chosen.recipients, bonus)
        if window is not None:
            self.on_promotion(shop.id)
        self.on_commit()
        return campaign_id, chosen

    def check(
        self,
        text: str,
        send_at: datetime | None = None,
        bonus: int = 0,
        promotion: PromotionRequest | None = None,
    ) -> tuple[str, PromotionWindow | None]:
        """The message and promotion window `send` would record; refused as `send` would."""
        message = campaign_rules.check_message(text)
        campaign_rules.check_campaign(send_at, bonus, self.clock())
        return message, self._window(promotion, send_at)

    def _window(
        self, promotion: PromotionRequest | None, send_at: datetime | None
    ) -> PromotionWindow | None:
        """The promotion's window, checked; it is announced at once, so it cannot be scheduled."""
        if promotion is None:
            return None
        if send_at is not None:
            raise InvalidInput("a promotion is announced at once: give starts_at, not send_at")
        now = self.clock()
        # A start in the past (a clock a little behind, or "from now") means now.
        starts = max(promotion.starts or now, now)
        if promotion.ends is None:
            raise InvalidInput("a promotion needs its end (ends_at / --until)")
        bonus_rules.check_promotion(promotion.multiplier, starts, promotion.ends, now)
        return PromotionWindow(promotion.multiplier, starts, promotion.ends)

    async def resolve_due(self, now: datetime) -> int:
        """Take the segment of scheduled campaigns whose moment has come (the push worker
        calls this each round); returns how many were resolved."""
        async with self.store.transaction() as conn:
            due = await due_campaigns(conn, now, RESOLVE_BATCH)
            for campaign in due:
                shop = await shop_by_id(conn, campaign.shop_id)
                chosen = self._choose(shop, campaign.segment, await activity(conn, shop.id, now))
                await resolve_campaign(
                    conn,
                    campaign.id,
                    recipients=chosen.recipients,
                    held_out=chosen.held_out,
                    over_limit=len(chosen.over_limit),
                    now=now,
                )
        return len(due)

    async def _give_bonus(
        self, shop: ShopRow, campaign_id: int, card_ids: list[int], bonus: int
    ) -> None:
        program = shop.program.rules()
        for start in range(0, len(card_ids), BONUS_BATCH):
            async with self.store.transaction() as conn:
                for card_id in card_ids[start : start + BONUS_BATCH]:
                    card = await lock_card_by_id(conn, card_id)
                    if card.counters.voided:
                        continue
                    after = loyalty.stamp(program, card.counters, bonus)
                    change = Change("bonus", bonus, f"campaign:{campaign_id}", after)
                    await apply_change(conn, card, change, self.clock())

    async def history(self, shop: ShopRow) -> list[dict[str, Any]]:
        """The shop's campaigns with their delivery figures."""
        async with self.store.reading() as conn:
            return await history(conn, shop.id)
