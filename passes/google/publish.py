"""A new card's Google Wallet object, inserted during the request that issues the card, so the
save link works at once; if Google is slow or down, the push worker inserts it later."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from passes.clock import Clock
from passes.config import Settings
from passes.google.wallet import GoogleWallet
from passes.store import Store
from passes.store.branches import locations_of
from passes.store.cards import CardRow
from passes.store.outbox import finish, retry_at
from passes.store.shops import ShopRow

log = logging.getLogger("passes.google.publish")

# A new card's Google object is inserted during the request, within this time, while its
# outbox row is held back from workers a little longer (then a worker takes over).
GOOGLE_PUBLISH_SECONDS = 3.0
GOOGLE_HOLD = timedelta(seconds=30)


class NewCards:
    """Publishes new cards to Google Wallet within the request, or leaves them to the worker."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        google: GoogleWallet,
        clock: Clock,
        on_commit: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.store = store
        self.google = google
        self.clock = clock
        self.on_commit = on_commit

    async def publish(self, shop: ShopRow, card: CardRow, outbox_id: int) -> None:
        """Insert a new card's Google object now; if Google is slow or down, the worker will."""
        card_url = self.settings.card_page_url(card.page_secret)
        try:
            async with self.store.reading() as conn:
                places = await locations_of(conn, shop.id)
            await asyncio.wait_for(
                self.google.publish(shop, card, card_url, places), GOOGLE_PUBLISH_SECONDS
            )
        except Exception as exc:  # card creation never fails because Google does
            log.warning("Google Wallet object for a new card left to the worker: %s", exc)
            async with self.store.transaction() as conn:
                await retry_at(conn, [outbox_id], self.clock())
            self.on_commit()
            return
        async with self.store.transaction() as conn:
            await finish(conn, [outbox_id])
