"""The purchase rule (passes/purchase_rules.py): stamps per full amount or over it, edges."""

from __future__ import annotations

from decimal import Decimal

import pytest

from passes import loyalty
from passes.purchase_rules import PurchaseRule, parse_amount, parse_rule, stamps_for, take_back

PER_5 = parse_rule("per 5.00 EUR")
OVER_3 = parse_rule("over 3")


@pytest.mark.parametrize(
    ("amount", "stamps"), [("4.99", 0), ("5.00", 1), ("5", 1), ("9.99", 1), ("10.00", 2)]
)
def test_one_stamp_per_full_amount(amount: str, stamps: int) -> None:
    assert stamps_for(PER_5, parse_amount(amount), "EUR").stamps == stamps


@pytest.mark.parametrize(("amount", "stamps"), [("2.99", 0), ("3.00", 1), ("300", 1)])
def test_one_stamp_per_purchase_over_the_amount(amount: str, stamps: int) -> None:
    assert stamps_for(OVER_3, parse_amount(amount), "EUR").stamps == stamps


def test_below_the_threshold_says_why_and_a_huge_purchase_is_one_visit() -> None:
    below = stamps_for(PER_5, Decimal("4.99"), "EUR")
    assert (below.stamps, below.reason) == (0, "below_threshold")
    huge = stamps_for(PER_5, Decimal("999999"), "EUR")
    assert (huge.stamps, huge.reason) == (loyalty.MAX_STAMPS_PER_VISIT, "capped")


def test_another_currency_is_refused() -> None:
    with pytest.raises(loyalty.Refused) as refused:
        stamps_for(PER_5, Decimal("10"), "CHF")
    assert refused.value.code == "currency_mismatch"


@pytest.mark.parametrize("text", ["4,99", "1e3", "-5", "NaN", "٣", "1.2345", "12345678"])
def test_amounts_are_plain_decimal_strings(text: str) -> None:
    with pytest.raises(loyalty.Refused):
        parse_amount(text)


@pytest.mark.parametrize("text", ["", "per", "every 5", "per 0", "per 5 euro", "over 0.0001"])
def test_rules_written_wrong_are_refused(text: str) -> None:
    with pytest.raises(loyalty.Refused):
        parse_rule(text)


def test_a_rule_reads_back_as_written() -> None:
    assert parse_rule("per 5 chf") == PurchaseRule("per_amount", Decimal("5"), "CHF")
    assert parse_rule(PER_5.text()) == PER_5


def test_take_back_stops_at_a_redeemed_reward() -> None:
    program = loyalty.Program(10, "1 Kaffee")
    card = loyalty.stamp(program, loyalty.stamp(program, loyalty.CardState(), 8), 3)
    assert (card.stamps, card.rewards_available) == (1, 1)
    undone, taken = take_back(program, card, 3)
    assert (taken, undone.stamps, undone.rewards_available) == (3, 8, 0)
    redeemed = loyalty.redeem(card, program)
    kept, taken = take_back(program, redeemed, 3)
    assert (taken, kept.stamps, kept.rewards_redeemed) == (1, 0, 1)
