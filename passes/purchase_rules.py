"""Stamps from the till: how many stamps a purchase earns under the shop's rule, and what a
refund takes back. Pure: plain values in, plain values out; only the card rules imported.

Amounts are decimal strings ("12.50"), read as Decimal and never as floats: a till's 4.99
must stay below a 5.00 threshold. At most three decimal places (ISO 4217 currencies have 0,
2 or 3), ASCII digits only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, get_args

from passes import loyalty

DEFAULT_CURRENCY = "EUR"
# A purchase or threshold above this is a typo (or a lost decimal point), not a coffee.
MAX_AMOUNT = Decimal("1000000")
MAX_REFERENCE = 64
AMOUNT_PATTERN = r"^[0-9]{1,7}(\.[0-9]{1,3})?$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
REFERENCE_PATTERN = r"^[\x21-\x7e]{1,64}$"

# per_amount: one stamp per full `amount`; over_amount: one stamp for a purchase of at least it.
Kind = Literal["per_amount", "over_amount"]
KINDS: tuple[str, ...] = get_args(Kind)
# What the owner types: "per 5 EUR", "over 3.00".
_WORDS = {"per": "per_amount", "over": "over_amount"}


def parse_amount(text: str, *, what: str = "amount") -> Decimal:
    """An amount as typed ("12.50"); Refused (invalid_purchase) unless a plain decimal."""
    if not isinstance(text, str) or not re.fullmatch(AMOUNT_PATTERN, text):
        raise loyalty.Refused(
            "invalid_purchase", f'{what} must be a decimal string such as "12.50" (not a number)'
        )
    amount = Decimal(text)
    if amount > MAX_AMOUNT:
        raise loyalty.Refused("invalid_purchase", f"{what} must be at most {MAX_AMOUNT}")
    return amount


def check_currency(code: str) -> str:
    """An ISO 4217 code, three capital letters ("EUR")."""
    if not re.fullmatch(CURRENCY_PATTERN, code):
        raise loyalty.Refused("invalid_purchase", "currency must be an ISO 4217 code, e.g. EUR")
    return code


def check_reference(reference: str) -> str:
    """The till's receipt or order id: 1 to 64 visible ASCII characters (it is in a URL)."""
    if not re.fullmatch(REFERENCE_PATTERN, reference):
        raise loyalty.Refused(
            "invalid_purchase",
            f"reference must be 1 to {MAX_REFERENCE} visible ASCII characters, no spaces",
        )
    return reference


@dataclass(frozen=True)
class PurchaseRule:
    """A shop's rule for purchases: its currency, and stamps per full amount or over it."""

    kind: Kind
    amount: Decimal
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise loyalty.Refused("invalid_purchase_rule", "a rule is per_amount or over_amount")
        exponent = self.amount.as_tuple().exponent  # "n"/"F" for NaN and infinity
        if not isinstance(exponent, int) or exponent < -3 or not 0 < self.amount <= MAX_AMOUNT:
            raise loyalty.Refused(
                "invalid_purchase_rule",
                f"a rule's amount is above 0 and at most {MAX_AMOUNT}, with up to 3 decimals",
            )
        check_currency(self.currency)

    def text(self) -> str:
        """How the owner writes it: "per 5.00 EUR"."""
        word = "per" if self.kind == "per_amount" else "over"
        return f"{word} {self.amount} {self.currency}"


def parse_rule(text: str) -> PurchaseRule:
    """ "per 5 EUR" (a stamp per full 5 EUR) or "over 3.00" (a stamp per purchase of 3 EUR or
    more); the currency defaults to EUR."""
    words = text.split()
    if len(words) not in (2, 3) or words[0].lower() not in _WORDS:
        raise loyalty.Refused(
            "invalid_purchase_rule", 'write a purchase rule as "per 5.00 EUR" or "over 3.00 EUR"'
        )
    try:
        amount = parse_amount(words[1], what="a rule's amount")
    except loyalty.Refused as exc:
        raise loyalty.Refused("invalid_purchase_rule", str(exc)) from None
    currency = words[2].upper() if len(words) == 3 else DEFAULT_CURRENCY
    kind: Kind = "per_amount" if words[0].lower() == "per" else "over_amount"
    return PurchaseRule(kind, amount, currency)


@dataclass(frozen=True)
class Earned:
    """The stamps a purchase earns, and why none or fewer (None: all it was worth)."""

    stamps: int
    reason: str | None = None
    message: str | None = None


def stamps_for(rule: PurchaseRule, amount: Decimal, currency: str) -> Earned:
    """The stamps `amount` in `currency` earns; Refused (currency_mismatch) in another currency.

    Stamps beyond one visit's limit (loyalty.MAX_STAMPS_PER_VISIT) are not given: a purchase
    is one visit."""
    if currency != rule.currency:
        raise loyalty.Refused(
            "currency_mismatch",
            f"this shop's purchase rule counts {rule.currency}; the purchase is in {currency}",
        )
    if rule.kind == "over_amount":
        stamps = 1 if amount >= rule.amount else 0
    else:
        stamps = int(amount // rule.amount)
    if stamps == 0:
        return Earned(0, "below_threshold", f"{amount} {currency} is below {rule.text()}")
    if stamps > loyalty.MAX_STAMPS_PER_VISIT:
        cap = loyalty.MAX_STAMPS_PER_VISIT
        return Earned(cap, "capped", f"at most {cap} stamps per purchase")
    return Earned(stamps)


def take_back(
    program: loyalty.Program, card: loyalty.CardState, count: int
) -> tuple[loyalty.CardState, int]:
    """Take back up to `count` stamps, newest first, with the rewards they completed while
    still due. It stops at a reward already redeemed: the stamps that earned it were spent,
    so they stay. Returns the card after and how many stamps were taken back."""
    taken = 0
    for _ in range(count):
        try:
            card = loyalty.undo_stamp(program, card, 1)
        except loyalty.Refused as exc:
            if exc.code != "reward_redeemed":
                raise
            break
        taken += 1
    return card, taken
