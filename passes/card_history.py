"""A card's history: its changes newest first, each naming the actor, the person and the
branch (the API key, the CLI and the shop's own rules name no person)."""

from __future__ import annotations

from passes.serials import normalise_serial
from passes.store import Store
from passes.store.cards import card_by_serial
from passes.store.history import HISTORY_LIMIT, HistoryEntry, card_history
from passes.store.shops import ShopRow

__all__ = ["HISTORY_LIMIT", "CardHistory", "HistoryEntry"]


class CardHistory:
    """Reading a card's ledger with who and where."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def of(
        self, shop: ShopRow, serial: str, limit: int = HISTORY_LIMIT
    ) -> tuple[str, list[HistoryEntry]]:
        """The shop's card `serial` (as stored) and its changes, newest first; UnknownCard
        (404) for a serial the shop does not have."""
        async with self.store.reading() as conn:
            card = await card_by_serial(conn, shop.id, normalise_serial(serial))
            found = await card_history(conn, shop.id, card.id, min(limit, HISTORY_LIMIT))
        return card.serial, found
