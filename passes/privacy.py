"""Personal data a customer chose to give, with consent: shown to the shop on request and
erased on request; the anonymous ledger stays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from passes.birthday_rules import check_birthday
from passes.clock import Clock, system_clock
from passes.errors import InvalidInput
from passes.serials import naming_typed_serial, normalise_serial
from passes.store import Store
from passes.store.cards import CardRow, card_by_serial, lock_card_by_id
from passes.store.customers import birthday_of, customer_of, erase_customer, save_birthday
from passes.store.shops import ShopRow


@dataclass(frozen=True)
class Customer:
    """Personal data a customer chose to give, with consent."""

    name: str | None
    email: str | None


class Privacy:
    """The holders' personal data of a shop's cards."""

    def __init__(self, store: Store, clock: Clock = system_clock) -> None:
        self.store = store
        self.clock = clock

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

    async def birthday(self, card: CardRow) -> tuple[int, int] | None:
        """The (day, month) the holder gave as their birthday, if any."""
        async with self.store.reading() as conn:
            return await birthday_of(conn, card.id)

    async def give_birthday(self, card: CardRow, day: int, month: int) -> None:
        """Keep the holder's birth day and month (they consented on the card page); a day
        that exists in no year is InvalidInput. The bonus comes at most once a year
        (passes/birthdays.py), however often it is changed."""
        try:
            birthday = check_birthday(day, month)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        async with self.store.transaction() as conn:
            await lock_card_by_id(conn, card.id)
            await save_birthday(conn, card.id, birthday, self.clock())

    async def forget_birthday(self, card: CardRow) -> None:
        """Delete the holder's birthday (the rest they gave stays): no bonus from now on."""
        async with self.store.transaction() as conn:
            await lock_card_by_id(conn, card.id)
            await save_birthday(conn, card.id, None, self.clock())
