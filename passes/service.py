"""What the shop can do, shared by the CLI, the shop API and the pages.

One object builds the parts over one store, one clock and the settings, and names their
operations for the callers: shops (admin, keys), cards (reads that record expiry), changes
(stamp, redeem, void), bonuses (promotions, long-standing, referrals), undo, privacy,
issuing, imports (paper cards), refresh (passes in wallets) and Google publishing of new cards.
"""

from __future__ import annotations

from collections.abc import Callable

from passes.bonuses import Bonuses
from passes.card_imports import CardImports
from passes.cards import Cards
from passes.changes import Changes
from passes.clock import Clock, system_clock
from passes.config import Settings
from passes.google.publish import NewCards
from passes.google.wallet import GoogleWallet, open_google
from passes.issuing import Issuing
from passes.privacy import Privacy
from passes.refresh import Refresher
from passes.shops import Shops
from passes.store import Store
from passes.undo import Undo


class Service:
    """The product's operations over one store, with the settings and the clock they need."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        on_commit: Callable[[], None] | None = None,
        google: GoogleWallet | None = None,
        *,
        clock: Clock = system_clock,
    ) -> None:
        self.settings = settings
        self.store = store
        # None when Google Wallet is off: no save links, no Google objects.
        self.google = google
        # Decides every business time (ledger, expiry, undo window, daily cap); tests move it.
        self.clock = clock
        # Wakes the in-process push worker; other processes find the rows by polling.
        self.on_commit = on_commit or (lambda: None)
        self.cards = Cards(settings, store, clock, self.on_commit, google)
        self.refresher = Refresher(settings, store, clock, self.on_commit)
        self.admin = Shops(store, clock, self.refresher)
        self.bonuses = Bonuses(store, clock)
        self.changes = Changes(store, clock, self.on_commit, self.cards, self.bonuses)
        self.undo = Undo(store, clock, self.on_commit, self.cards)
        self.privacy = Privacy(store)
        publisher = (
            None if google is None else NewCards(settings, store, google, clock, self.on_commit)
        )
        self.issuing = Issuing(store, clock, self.cards, publisher)
        self.imports = CardImports(store, clock, self.cards)
        self._name_operations()

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        on_commit: Callable[[], None] | None = None,
        clock: Clock = system_clock,
    ) -> Service:
        """The service over the configured database and Google Wallet (close with `aclose`)."""
        store = Store(settings.database_url)
        return cls(settings, store, on_commit, open_google(settings), clock=clock)

    async def aclose(self) -> None:
        """Close Google Wallet's client and the store's connections."""
        if self.google is not None:
            await self.google.aclose()
        await self.store.close()

    def _name_operations(self) -> None:
        """The parts' operations under the names the CLI, the API and the pages call."""
        self.urls = self.cards.urls
        self.card = self.cards.card
        self.fresh = self.cards.fresh
        self.fresh_card = self.cards.fresh_card
        self.find_card = self.cards.find_card
        self.card_by_secret = self.cards.card_by_secret
        self.deliveries = self.cards.deliveries
        self.create_shop = self.admin.create_shop
        self.change_program = self.admin.change_program
        self.update_program = self.admin.update_program
        self.set_tiers = self.admin.set_tiers
        self.update_long_standing = self.admin.update_long_standing
        self.shop = self.admin.shop
        self.shops = self.admin.shops
        self.authenticate = self.admin.authenticate
        self.locations = self.admin.locations
        self.add_location = self.admin.add_location
        self.remove_location = self.admin.remove_location
        self.passes_in_wallets = self.refresher.passes_in_wallets
        self.refresh_passes = self.refresher.refresh_passes
        self.stamp = self.changes.stamp
        self.redeem = self.changes.redeem
        self.void = self.changes.void
        self.undo_stamp = self.undo.undo_stamp
        self.issue_card = self.issuing.issue_card
        self.promotions = self.bonuses.promotions
        self.forget_promotions = self.bonuses.forget_promotions
        self.personal_data = self.privacy.personal_data
        self.erase_personal_data = self.privacy.erase_personal_data
