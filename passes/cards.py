"""Reading a shop's cards: what the customer and staff see, with what has expired by now
recorded first (the sweep may lag), and the URLs where the customer finds a card."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from passes import loyalty
from passes.clock import Clock
from passes.config import Settings
from passes.errors import UnknownCard
from passes.expiry import expire_card, expired
from passes.google.wallet import GoogleWallet
from passes.serials import naming_typed_serial, normalise_serial, unknown_serial
from passes.store import Store
from passes.store.apple import Deliveries, deliveries
from passes.store.cards import (
    CardRow,
    card_by_secret,
    card_by_serial,
    card_by_serial_any_shop,
    lock_card_by_id,
)
from passes.store.shops import ShopRow, shop_by_id


@dataclass(frozen=True)
class CardView:
    """A card with its shop, ready to be shown or serialised."""

    shop: ShopRow
    card: CardRow
    urls: dict[str, str | None]


def program_of(shop: ShopRow) -> loyalty.Program:
    """The loyalty rules' view of a shop's program."""
    return shop.program.rules()


class Cards:
    """The shop's cards as they are now, and where their customers find them."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        on_commit: Callable[[], None],
        google: GoogleWallet | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.on_commit = on_commit
        # None when Google Wallet is off: no save links.
        self.google = google

    def urls(self, card: CardRow) -> dict[str, str | None]:
        """Where the customer finds this card; the page URL carries a secret."""
        page = self.settings.card_page_url(card.page_secret)
        google = None if self.google is None else self.google.save_url(card)
        return {"card": page, "apple": f"{page}/pass.pkpass", "google": google}

    def view(self, shop: ShopRow, card: CardRow) -> CardView:
        return CardView(shop, card, self.urls(card))

    @naming_typed_serial
    async def card(self, shop: ShopRow, serial: str) -> CardView:
        """The shop's card `serial`."""
        async with self.store.reading() as conn:
            card = await card_by_serial(conn, shop.id, normalise_serial(serial))
        return await self.fresh(shop, card)

    async def fresh(self, shop: ShopRow, card: CardRow) -> CardView:
        """The card to show; what has expired by now is recorded first (the sweep may lag)."""
        return self.view(shop, await self.fresh_card(shop, card))

    async def fresh_card(self, shop: ShopRow, card: CardRow) -> CardRow:
        """The card with what has expired by now recorded; as read when nothing has."""
        if expired(shop, card, self.clock()) is not None:
            async with self.store.transaction() as conn:
                locked = await lock_card_by_id(conn, card.id)
                card = await expire_card(conn, shop, locked, self.clock())
            self.on_commit()
        return card

    async def find_card(self, serial: str) -> CardView:
        """Any shop's card `serial` (for the operator's command line only)."""
        async with self.store.reading() as conn:
            try:
                card = await card_by_serial_any_shop(conn, normalise_serial(serial))
            except UnknownCard as exc:
                raise UnknownCard(exc.serial, unknown_serial(serial, exc.serial)) from exc
            shop = await shop_by_id(conn, card.shop_id)
        return await self.fresh(shop, card)

    async def card_by_secret(self, page_secret: str) -> CardView:
        """The card behind a customer's card-page URL."""
        async with self.store.reading() as conn:
            card = await card_by_secret(conn, page_secret)
            shop = await shop_by_id(conn, card.shop_id)
        return await self.fresh(shop, card)

    @naming_typed_serial
    async def deliveries(self, shop: ShopRow, serial: str) -> tuple[CardView, Deliveries]:
        """The card with what we know of getting its updates onto phones."""
        await self.store.fetches.flush()  # this process's fetch times, written behind
        async with self.store.reading() as conn:
            card = await card_by_serial(conn, shop.id, normalise_serial(serial))
            found = await deliveries(conn, card.id)
        return self.view(shop, card), found
