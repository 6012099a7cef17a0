"""Stamps from the till: a purchase stamps the card by the shop's rule (passes/purchase_rules.py)
through the change pipeline (daily cap, promotions, pushes), once per card and reference; a
refund takes back what that purchase gave, and the rewards it completed while still due."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from passes import notices
from passes.cards import Cards, CardView, program_of
from passes.changes import Changes
from passes.clock import Clock
from passes.errors import Conflict, NotFound
from passes.expiry import expire_card
from passes.purchase_rules import (
    Earned,
    PurchaseRule,
    check_currency,
    check_reference,
    parse_amount,
    stamps_for,
    take_back,
)
from passes.serials import naming_typed_serial, normalise_serial
from passes.store import Store
from passes.store.card_changes import apply_change
from passes.store.cards import CardRow, lock_card
from passes.store.ledger import NO_ORIGIN, Change, Origin, change_by_key, ledger_entry
from passes.store.purchases import (
    Purchase,
    find_purchase,
    mark_refunded,
    purchase_rule,
    record_purchase,
    set_purchase_rule,
)
from passes.store.shops import ShopRow
from passes.undo import with_promotion_bonus


@dataclass(frozen=True)
class Bought:
    """A purchase applied (or answered again): the card after it and what it earned."""

    view: CardView
    purchase: Purchase
    earned: Earned
    new: bool


@dataclass(frozen=True)
class Refunded:
    """A refund: the card after it, the purchase, and the stamps it could not take back."""

    view: CardView
    purchase: Purchase
    kept: int


def idempotency_key(reference: str) -> str:
    """The ledger's key for a purchase's stamp: a retry of the purchase stamps nothing."""
    return f"purchase:{reference}"


class Purchases:
    """Purchases and refunds reported by the shop's till, and the rule that turns them into stamps."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        on_commit: Callable[[], None],
        cards: Cards,
        changes: Changes,
    ) -> None:
        self.store = store
        self.clock = clock
        self.on_commit = on_commit
        self.cards = cards
        self.changes = changes

    async def rule(self, shop: ShopRow) -> PurchaseRule | None:
        """The shop's purchase rule (None: purchases earn nothing yet)."""
        async with self.store.reading() as conn:
            return await purchase_rule(conn, shop.id)

    async def set_rule(self, shop: ShopRow, rule: PurchaseRule | None) -> None:
        """Set or (None) remove the shop's purchase rule."""
        async with self.store.transaction() as conn:
            await set_purchase_rule(conn, shop.id, rule, self.clock())

    @naming_typed_serial
    async def purchase(
        self,
        shop: ShopRow,
        serial: str,
        reference: str,
        amount: str,
        currency: str,
        *,
        actor: str,
        origin: Origin = NO_ORIGIN,
    ) -> Bought:
        """Stamp the card for a purchase by the shop's rule; the same reference again answers
        the first result and stamps nothing (a different purchase under it is a Conflict)."""
        check_reference(reference)
        value, currency = parse_amount(amount), check_currency(currency)
        view = await self.cards.card(shop, serial)  # an unknown card is a 404 before all else
        rule = await self.rule(shop)
        if rule is None:
            raise Conflict(
                "this shop has no purchase rule: set one with "
                "passes shop settings --purchase-rule 'per 5.00 EUR' or on the dashboard",
                "no_purchase_rule",
            )
        earned = stamps_for(rule, value, currency)
        card_id = view.card.id
        earlier = await self._find(card_id, reference)
        if earlier is not None:
            return await self._again(shop, serial, earlier, value, currency, earned, actor)
        event_id = None
        if earned.stamps:
            key = idempotency_key(reference)
            view = await self.changes.stamp(
                shop, serial, earned.stamps, actor=actor, idempotency_key=key, origin=origin
            )
            async with self.store.reading() as conn:
                past = await change_by_key(conn, card_id, key)
            event_id = None if past is None else past.event_id
        bought = Purchase(
            card_id, reference, value, currency, earned.stamps, event_id, self.clock()
        )
        async with self.store.transaction() as conn:
            stored = await record_purchase(conn, shop.id, bought)
        if not stored:  # the same reference, at the same moment: answer as its retry
            raced = await self._find(card_id, reference)
            assert raced is not None  # the unique index refused ours for it
            return await self._again(shop, serial, raced, value, currency, earned, actor)
        return Bought(view, bought, earned, new=True)

    async def _find(self, card_id: int, reference: str) -> Purchase | None:
        async with self.store.reading() as conn:
            return await find_purchase(conn, card_id, reference)

    async def _again(
        self,
        shop: ShopRow,
        serial: str,
        earlier: Purchase,
        amount: Decimal,
        currency: str,
        earned: Earned,
        actor: str,
    ) -> Bought:
        """A purchase reported again: the first answer, or a Conflict for another purchase."""
        if (earlier.amount, earlier.currency) != (amount, currency):
            raise Conflict(
                f"reference {earlier.reference!r} was a purchase of {earlier.amount} "
                f"{earlier.currency} on this card; use a new reference for another purchase",
                "reference_reused",
            )
        if earlier.stamps:
            key = idempotency_key(earlier.reference)
            view = await self.changes.stamp(
                shop, serial, earlier.stamps, actor=actor, idempotency_key=key
            )
        else:
            view = await self.cards.card(shop, serial)
        if earned.stamps != earlier.stamps:  # the rule changed since: say what was given
            earned = Earned(earlier.stamps)
        return Bought(view, earlier, earned, new=False)

    @naming_typed_serial
    async def refund(self, shop: ShopRow, serial: str, reference: str, *, actor: str) -> Refunded:
        """Take back what the purchase gave (its promotion bonus too) and the rewards those
        stamps completed while still due; refunding twice changes nothing more."""
        now = self.clock()
        async with self.store.transaction() as conn:
            card = await lock_card(conn, shop.id, normalise_serial(serial))
            bought = await find_purchase(conn, card.id, reference)
            if bought is None:
                raise NotFound(f"no purchase {reference!r} on this card")
            if bought.refunded_at is not None:
                return Refunded(self.cards.view(shop, card), bought, bought.stamps_kept or 0)
            card = await expire_card(conn, shop, card, now)
            card, taken, given = await self._take_back(conn, shop, card, bought, actor)
            await mark_refunded(conn, card.id, reference, taken, given - taken, now)
        self.on_commit()
        bought = replace(
            bought, refunded_at=now, stamps_taken_back=taken, stamps_kept=given - taken
        )
        return Refunded(self.cards.view(shop, card), bought, given - taken)

    async def _take_back(
        self, conn: AsyncConnection, shop: ShopRow, card: CardRow, bought: Purchase, actor: str
    ) -> tuple[CardRow, int, int]:
        """Undo events for the purchase's promotion bonus and stamp, newest first, as far as
        the card still holds them; the card after, the stamps taken and the stamps given."""
        if bought.event_id is None:
            return card, 0, 0
        stamp, bonus = await with_promotion_bonus(
            conn, card.id, await ledger_entry(conn, card.id, bought.event_id)
        )
        if stamp.undone:  # staff undid it already, its bonus with it
            return card, 0, 0
        program = program_of(shop)
        taken = given = 0
        stopped = False  # by a reward already redeemed: the stamps before it stay
        for entry, kind in ((bonus, "undo_bonus"), (stamp, "undo")):
            if entry is None:
                continue
            given += entry.count
            if stopped:
                continue
            after, count = take_back(program, card.counters, entry.count)
            if count:
                change = Change(
                    kind, count, actor, after, undoes_event_id=entry.id,
                    notice=notices.silent("undone"),
                )  # fmt: skip
                card = await apply_change(conn, card, change, self.clock())
            taken += count
            stopped = count < entry.count
        return card, taken, given
