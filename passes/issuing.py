"""Issuing a card: anonymous unless the customer consents to more, with its welcome stamps,
the card that recommended it, and its Google Wallet object when that is on."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncConnection

from passes import loyalty
from passes.bonuses import bonus_change
from passes.cards import Cards, CardView, program_of
from passes.clock import Clock
from passes.errors import NotFound
from passes.google.publish import GOOGLE_HOLD, NewCards
from passes.privacy import Customer
from passes.serials import new_serial, normalise_serial
from passes.store import Store
from passes.store.card_changes import apply_change, insert_card
from passes.store.cards import card_by_serial
from passes.store.customers import save_customer
from passes.store.google import add_google_object, hold_google_update
from passes.store.shops import ShopRow


class Issuing:
    """Issues the shop's new cards."""

    def __init__(
        self, store: Store, clock: Clock, cards: Cards, publisher: NewCards | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.cards = cards
        # None when Google Wallet is off: no Google objects.
        self.publisher = publisher
        self.google = None if publisher is None else publisher.google

    async def issue_card(
        self,
        shop: ShopRow,
        actor: str,
        *,
        referrer: str | None = None,
        customer: Customer | None = None,
    ) -> CardView:
        """A new card for this shop (anonymous unless the customer consents to more),
        put into Google Wallet too when that is on."""
        now = self.clock()
        held = None
        async with self.store.transaction() as conn:
            referrer_id = await self._referrer_id(conn, shop, referrer)
            card = await insert_card(
                conn,
                shop_id=shop.id,
                program_id=shop.program.id,
                serial=new_serial(),
                auth_token=secrets.token_urlsafe(24),
                page_secret=secrets.token_urlsafe(24),
                actor=actor,
                now=now,
                referrer_id=referrer_id,
            )
            if customer is not None:
                await save_customer(conn, card.id, customer.name, customer.email, now)
            if self.google is not None:
                await add_google_object(conn, card.id, self.google.object_id(card), now)
                held = await hold_google_update(conn, card.id, now, now + GOOGLE_HOLD)
            welcome = shop.program.welcome_stamps
            if welcome:
                after = loyalty.stamp(program_of(shop), card.counters, welcome, now)
                change = bonus_change(shop, card, welcome, "welcome", after)
                card = await apply_change(conn, card, change, now)
        if held is not None and self.publisher is not None:
            await self.publisher.publish(shop, card, held)
        return self.cards.view(shop, card)

    async def _referrer_id(
        self, conn: AsyncConnection, shop: ShopRow, referrer: str | None
    ) -> int | None:
        """The recommending card of this shop; an unknown or voided one earns nothing."""
        if not referrer:
            return None
        try:
            found = await card_by_serial(conn, shop.id, normalise_serial(referrer))
        except NotFound:
            return None
        return None if found.counters.voided else found.id
