"""Stamps beyond the counter's: a running promotion's extra stamps, the long-standing
customer's one-time bonus and perk, a referral's reward for both cards. Each is a `bonus`
ledger event of its own, written in the transaction of the stamp that earned it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from passes import bonus_rules, loyalty, notices
from passes.cache import TtlCache
from passes.cards import program_of
from passes.clock import Clock
from passes.store import Store
from passes.store.card_changes import apply_change
from passes.store.cards import CardRow, lock_card_by_id, mark_long_standing, mark_referral_rewarded
from passes.store.ledger import NO_ORIGIN, Change, Origin
from passes.store.promotions import promotions_of
from passes.store.shops import ShopRow

# How long a shop's promotions are known without asking again: a promotion made by another
# process applies here within this time (this process's own ones at once).
PROMOTION_CACHE_SECONDS = 30.0


LONG_STANDING_ACTOR = "loyalty:long-standing"


@dataclass(frozen=True)
class FollowUp:
    """More changes that follow a fresh one in its transaction (a promotion's extra stamps,
    becoming long-standing), and whether they would for a card in a given state."""

    applies: Callable[[CardRow, datetime], bool]
    run: Callable[[AsyncConnection, CardRow], Awaitable[CardRow]]


class Bonuses:
    """Promotions (cached per shop), long-standing customers and referrals."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._promotions: TtlCache[tuple[bonus_rules.Promotion, ...]] = TtlCache(
            PROMOTION_CACHE_SECONDS, 1000
        )

    def forget_promotions(self, shop_id: int) -> None:
        """The shop's promotions changed: ask the database at the next stamp."""
        self._promotions.drop(str(shop_id))

    async def promotions(self, shop: ShopRow) -> tuple[bonus_rules.Promotion, ...]:
        """The shop's promotions that have not ended, cached for PROMOTION_CACHE_SECONDS.

        Every stamp asks, so a shop without promotions must not cost a round trip each.
        """

        async def load() -> tuple[bonus_rules.Promotion, ...]:
            async with self.store.reading() as conn:
                return tuple(await promotions_of(conn, shop.id, self.clock()))

        return await self._promotions.get_or_load(str(shop.id), load)

    def after_stamp(
        self,
        shop: ShopRow,
        count: int,
        promotions: tuple[bonus_rules.Promotion, ...],
        origin: Origin = NO_ORIGIN,
    ) -> FollowUp | None:
        """A fresh stamp's follow-ups in its transaction: a running promotion's extra stamps
        (a `bonus` event of their own, so a retry of the stamp gives none), then the
        long-standing check. None when the shop has neither. The bonus events carry the
        stamp's `origin`: they happened where it did."""
        rule = long_standing_rule(shop)
        if not promotions and not rule.enabled:
            return None

        def applies(card: CardRow, now: datetime) -> bool:
            promoted = bonus_rules.promotion_bonus(count, card.id, promotions, now)[1] is not None
            already = card.loyal_since is not None
            return promoted or bonus_rules.becomes_long_standing(
                rule, card.counters, card.created_at, now, already
            )

        async def then(conn: AsyncConnection, card: CardRow) -> CardRow:
            # The stamp's own moment: its undo finds the bonus by it (see undo_stamp).
            now = card.updated_at
            extra, promotion = bonus_rules.promotion_bonus(count, card.id, promotions, now)
            if promotion is not None:
                actor = f"promotion:{promotion.id}"
                card = await self._bonus(conn, shop, card, extra, actor, now, origin)
            state = card.counters
            turns = bonus_rules.becomes_long_standing(
                rule, state, card.created_at, now, card.loyal_since is not None
            )
            return await self._make_long_standing(conn, shop, card, now, origin) if turns else card

        return FollowUp(applies, then)

    async def _bonus(
        self,
        conn: AsyncConnection,
        shop: ShopRow,
        card: CardRow,
        count: int,
        actor: str,
        now: datetime,
        origin: Origin = NO_ORIGIN,
    ) -> CardRow:
        after = loyalty.add_bonus(program_of(shop), card.counters, count)
        perk = shop.program.loyal_perk if actor == LONG_STANDING_ACTOR else None
        change = bonus_change(shop, card, count, actor, after, perk=perk, origin=origin)
        return await apply_change(conn, card, change, now)

    async def _make_long_standing(
        self,
        conn: AsyncConnection,
        shop: ShopRow,
        card: CardRow,
        now: datetime,
        origin: Origin = NO_ORIGIN,
    ) -> CardRow:
        """Mark the card long-standing (its perk shows from now on) and give the bonus, once."""
        if not await mark_long_standing(conn, card.id, now):
            return card
        card = replace(card, loyal_since=now)
        bonus = shop.program.loyal_bonus_stamps
        if bonus > 0 and not card.counters.voided:
            card = await self._bonus(conn, shop, card, bonus, LONG_STANDING_ACTOR, now, origin)
        return card

    async def reward_referral(
        self, conn: AsyncConnection, shop: ShopRow, card: CardRow, now: datetime
    ) -> CardRow:
        """At a referred card's first real stamp, it and its referrer each get the bonus, once.

        The referrer had to exist before the card, so no loop of cards can refer
        each other, and the flag on the card makes the bonus a one-time event.
        """
        bonus = shop.program.referral_bonus
        await mark_referral_rewarded(conn, card.id)
        if bonus < 1 or card.referrer_id is None:
            return card
        program = program_of(shop)
        referrer = await lock_card_by_id(conn, card.referrer_id)
        for target in (card, referrer):
            if target.counters.voided:
                continue
            after = loyalty.stamp(program, target.counters, bonus, now)
            change = bonus_change(shop, target, bonus, f"referral:{card.serial}", after)
            moved = await apply_change(conn, target, change, now)
            card = moved if target is card else card
        return replace(card, referral_rewarded=True)


def bonus_change(
    shop: ShopRow,
    card: CardRow,
    count: int,
    actor: str,
    after: loyalty.CardState,
    *,
    perk: str | None = None,
    origin: Origin = NO_ORIGIN,
) -> Change:
    """Bonus stamps for `card`, announced as notices.bonus decides."""
    notice = notices.bonus(
        program_of(shop),
        card.counters,
        after,
        previous=card.notice,
        card_version=card.version,
        perk=perk,
    )
    return Change("bonus", count, actor, after, notice=notice, origin=origin)


def rewards_referral(kind: str, card: CardRow) -> bool:
    """A referred card's first real stamp also rewards its referrer (see Bonuses.reward_referral)."""
    return kind == "stamp" and card.referrer_id is not None and not card.referral_rewarded


def long_standing_rule(shop: ShopRow) -> bonus_rules.LongStanding:
    """The loyalty rules' view of when the shop's cards become long-standing."""
    program = shop.program
    return bonus_rules.LongStanding(
        program.loyal_after_cards, program.loyal_after_months, program.loyal_bonus_stamps
    )
