"""What the shop can do, shared by the CLI, the shop API and the pages.

One object builds the parts over one store, one clock and the settings; callers call the
part that owns a behaviour:

- `shops` (passes/shops.py): create a shop, change its program (tiers and long-standing
  bonus included) and places, find it by slug or API key, list every shop;
- `cards` (passes/cards.py): read a card (recording expiry), find it by serial or page
  secret, its links and its pushes;
- `changes` (passes/changes.py): stamp, redeem, void;
- `undo` (passes/undo.py): take back a recent stamp;
- `purchases` (passes/purchases.py): stamps from the till by the shop's purchase rule, refunds;
- `bonuses` (passes/bonuses.py): the running promotions (stamps add the long-standing and
  referral bonuses through it);
- `issuing` (passes/issuing.py): issue a new card;
- `imports` (passes/card_imports.py): paper cards imported from a CSV file;
- `privacy` (passes/privacy.py): a customer's personal data (a birthday given on the card
  page too), shown or erased;
- `refresher` (passes/refresh.py): the passes in wallets, refreshed after a change;
- `webhooks` (passes/webhooks.py): the shop's outgoing webhook endpoints;
- `people` (passes/people.py): the shop's staff accounts (name, own PIN, role, branch);
- `history` (passes/card_history.py): a card's changes with who made them and where;
- Google publishing of new cards (passes/google/publish.py) is handed to `issuing`.
"""

from __future__ import annotations

from collections.abc import Callable

from passes.bonuses import Bonuses
from passes.card_history import CardHistory
from passes.card_imports import CardImports
from passes.cards import Cards
from passes.changes import Changes
from passes.clock import Clock, system_clock
from passes.config import Settings
from passes.google.publish import NewCards
from passes.google.wallet import GoogleWallet, open_google
from passes.issuing import Issuing
from passes.people import People
from passes.privacy import Privacy
from passes.purchases import Purchases
from passes.refresh import Refresher
from passes.shops import Shops
from passes.store import Store
from passes.undo import Undo
from passes.webhooks import Webhooks


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
        self.shops = Shops(store, clock, self.refresher)
        self.bonuses = Bonuses(store, clock)
        self.changes = Changes(store, clock, self.on_commit, self.cards, self.bonuses)
        self.undo = Undo(store, clock, self.on_commit, self.cards)
        self.purchases = Purchases(store, clock, self.on_commit, self.cards, self.changes)
        self.privacy = Privacy(store, clock)
        publisher = (
            None if google is None else NewCards(settings, store, google, clock, self.on_commit)
        )
        self.issuing = Issuing(store, clock, self.cards, publisher)
        self.imports = CardImports(store, clock, self.cards)
        self.webhooks = Webhooks(settings, store, clock)
        self.people = People(store)
        self.history = CardHistory(store)

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
