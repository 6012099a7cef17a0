"""Personal data a customer chose to give, with consent: shown to the shop on request and
erased on request; the anonymous ledger stays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from passes.serials import naming_typed_serial, normalise_serial
from passes.store import Store
from passes.store.cards import card_by_serial
from passes.store.customers import customer_of, erase_customer
from passes.store.shops import ShopRow


@dataclass(frozen=True)
class Customer:
    """Personal data a customer chose to give, with consent."""

    name: str | None
    email: str | None


class Privacy:
    """The holders' personal data of a shop's cards."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @naming_typed_serial
    async def personal_data(self, shop: ShopRow, serial: str) -> dict[str, Any]:
        """Everything personal we hold about a card's holder (usually nothing)."""
        async with self.store.reading() as conn:
            card = await card_by_serial(conn, shop.id, normalise_serial(serial))
            found = await customer_of(conn, card.id)
        return {"serial": card.serial, "personal_data": found}

    @naming_typed_serial
    async def erase_personal_data(self, shop: ShopRow, serial: str) -> bool:
        """Delete the holder's personal data; the anonymous ledger stays."""
        async with self.store.transaction() as conn:
            card = await card_by_serial(conn, shop.id, normalise_serial(serial))
            return await erase_customer(conn, card.id)
