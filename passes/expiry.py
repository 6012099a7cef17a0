"""Expiry of stamps and rewards: applied to a card when it is touched, and swept periodically.

The rules are loyalty.expire; this module records what it decides as `expire` ledger events,
which move the card and queue its pushes like any change.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from passes import loyalty, notices
from passes.clock import Clock, system_clock
from passes.store import Store
from passes.store.card_changes import apply_change
from passes.store.cards import CardRow, expiring_cards
from passes.store.ledger import Change
from passes.store.shops import ProgramRow, ShopRow, expiring_programs

log = logging.getLogger("passes.expiry")

ACTOR = "expiry"
# Cards expired per transaction: small, so stamps on them wait little for the locks.
SWEEP_BATCH = 100
SWEEP_EVERY = timedelta(minutes=10)


def expires(program: ProgramRow) -> bool:
    """Whether anything on this program's cards can expire (most programs: no, and no cost)."""
    return program.stamp_expiry_days is not None or program.reward_expiry_days is not None


def expired(shop: ShopRow, card: CardRow, now: datetime) -> loyalty.CardState | None:
    """The card's state after expiry at `now`, or None when nothing on it has expired."""
    if not expires(shop.program):
        return None
    state = card.counters
    after = loyalty.expire(shop.program.rules(), state, now)
    return None if after is state else after


async def expire_card(
    conn: AsyncConnection, shop: ShopRow, card: CardRow, now: datetime
) -> CardRow:
    """Record what has expired on the (locked) card as one `expire` event; else change nothing.

    The event's count is the stamps that expired; the rewards show in its counters.
    """
    after = expired(shop, card, now)
    if after is None:
        return card
    stamps = after.stamps_expired - card.counters.stamps_expired
    change = Change("expire", stamps, ACTOR, after, notice=notices.silent("expired"))
    return await apply_change(conn, card, change, now)


class ExpirySweep:
    """Expires stamps and rewards of cards nobody touches, so their passes update anyway.

    Safe with several workers: each batch is locked (SKIP LOCKED on PostgreSQL) and every
    card is checked again under its lock, so nothing expires twice.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = system_clock,
        batch: int = SWEEP_BATCH,
    ) -> None:
        self.store = store
        self.clock = clock
        self.batch = batch

    async def run(self, now: datetime | None = None) -> int:
        """One sweep over every program with expiry (at `now`, else the clock's time); returns
        how many cards changed."""
        now = now or self.clock()
        async with self.store.reading() as conn:
            shops = await expiring_programs(conn)
        changed = 0
        for shop in shops:
            changed += await self._program(shop, now)
        if changed:
            log.info("expiry: %d card(s) changed", changed)
        return changed

    async def _program(self, shop: ShopRow, now: datetime) -> int:
        program = shop.program
        stamps_before = _before(now, program.stamp_expiry_days)
        rewards_before = _before(now, program.reward_expiry_days)
        changed, after_id = 0, 0
        while True:
            async with self.store.transaction() as conn:
                found = await expiring_cards(
                    conn,
                    program.id,
                    stamps_before=stamps_before,
                    rewards_before=rewards_before,
                    after_id=after_id,
                    limit=self.batch,
                )
                for card in found:
                    moved = await expire_card(conn, shop, card, now)
                    changed += moved is not card
            if len(found) < self.batch:
                return changed
            after_id = found[-1].id


def _before(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)
