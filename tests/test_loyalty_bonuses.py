"""The pure rules for promotions and long-standing customers (loyalty.py), with Hypothesis."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passes import bonus_rules, loyalty
from passes.bonus_rules import LongStanding, Promotion
from passes.loyalty import CardState, Program, Refused

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def promotion(pid: int, multiplier: int, cards: set[int], starts: datetime = NOW) -> Promotion:
    return Promotion(pid, multiplier, starts, starts + 48 * HOUR, frozenset(cards))


def test_a_running_promotion_gives_the_extra_stamps_to_its_cards_only() -> None:
    running = [promotion(1, 2, {7})]
    assert bonus_rules.promotion_bonus(3, 7, running, NOW + HOUR) == (3, running[0])
    assert bonus_rules.promotion_bonus(3, 8, running, NOW + HOUR) == (0, None)


def test_a_promotion_counts_from_its_start_until_before_its_end() -> None:
    window = promotion(1, 3, {7})
    assert bonus_rules.promotion_bonus(1, 7, [window], NOW - timedelta(seconds=1)) == (0, None)
    assert bonus_rules.promotion_bonus(1, 7, [window], NOW)[0] == 2
    assert bonus_rules.promotion_bonus(1, 7, [window], window.ends) == (0, None)


@given(
    count=st.integers(1, loyalty.MAX_STAMPS_PER_VISIT),
    multipliers=st.lists(st.integers(2, bonus_rules.MAX_MULTIPLIER), min_size=1, max_size=4),
)
def test_overlapping_promotions_never_multiply_each_other(
    count: int, multipliers: list[int]
) -> None:
    windows = [promotion(i, m, {1}) for i, m in enumerate(multipliers)]
    extra, best = bonus_rules.promotion_bonus(count, 1, windows, NOW + HOUR)
    assert extra == count * (max(multipliers) - 1)
    assert best is not None and best.multiplier == max(multipliers)


@pytest.mark.parametrize(
    ("multiplier", "starts", "ends"),
    [
        (1, NOW, NOW + HOUR),
        (6, NOW, NOW + HOUR),
        (True, NOW, NOW + HOUR),
        (2, NOW, NOW),
        (2, NOW - 2 * HOUR, NOW - HOUR),
        (2, NOW, NOW + timedelta(days=14, seconds=1)),
        (2, NOW + timedelta(days=31), NOW + timedelta(days=32)),
    ],
)
def test_bad_promotions_are_refused(multiplier: int, starts: datetime, ends: datetime) -> None:
    with pytest.raises(Refused) as refused:
        bonus_rules.check_promotion(multiplier, starts, ends, NOW)
    assert refused.value.code == "invalid_promotion"


def test_the_longest_and_latest_promotion_allowed() -> None:
    starts = NOW + timedelta(days=30)
    bonus_rules.check_promotion(
        bonus_rules.MAX_MULTIPLIER, starts, starts + timedelta(days=14), NOW
    )


@given(
    required=st.integers(1, loyalty.MAX_STAMPS_REQUIRED),
    stamps=st.integers(0, 29),
    bonus=st.integers(1, 500),
)
def test_a_bonus_counts_like_stamps_and_keeps_the_total_honest(
    required: int, stamps: int, bonus: int
) -> None:
    program = Program(required, "Kaffee")
    card = CardState(stamps=stamps % required, total_stamps=stamps % required)
    after = loyalty.add_bonus(program, card, bonus)
    assert after.total_stamps == card.total_stamps + bonus
    assert after.rewards_available * required + after.stamps == card.stamps + bonus


def test_a_voided_card_gets_no_bonus() -> None:
    with pytest.raises(Refused):
        loyalty.add_bonus(Program(10, "Kaffee"), CardState(voided=True), 1)


def test_long_standing_by_full_cards_or_months_whichever_comes_first() -> None:
    rule = LongStanding(after_cards=3, after_months=12, bonus_stamps=1)
    joined = NOW - timedelta(days=30)
    assert not bonus_rules.becomes_long_standing(
        rule, CardState(rewards_available=2), joined, NOW, False
    )
    earned = CardState(rewards_available=1, rewards_redeemed=2)
    assert bonus_rules.becomes_long_standing(rule, earned, joined, NOW, False)
    assert not bonus_rules.becomes_long_standing(rule, earned, joined, NOW, True), "never twice"
    lapsed = CardState(rewards_redeemed=1, rewards_expired=2)
    assert bonus_rules.becomes_long_standing(rule, lapsed, joined, NOW, False), "expired ones count"
    year_ago = datetime(2025, 11, 27, 12, 0, tzinfo=UTC)
    assert bonus_rules.becomes_long_standing(rule, CardState(), year_ago, NOW, False)
    assert not bonus_rules.becomes_long_standing(
        rule, CardState(), year_ago + timedelta(seconds=1), NOW, False
    )


def test_no_rule_no_long_standing() -> None:
    rich = CardState(rewards_redeemed=99)
    assert not bonus_rules.becomes_long_standing(
        LongStanding(), rich, NOW - 9999 * HOUR, NOW, False
    )


@given(
    joined=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    months=st.integers(0, bonus_rules.MAX_LOYAL_MONTHS),
)
def test_months_are_calendar_months(joined: datetime, months: int) -> None:
    moved = bonus_rules.add_months(joined, months)
    assert (moved.year - joined.year) * 12 + moved.month - joined.month == months
    assert moved.day <= joined.day and moved.time() == joined.time()
    assert moved - joined <= timedelta(days=31 * months + 1)


def test_month_ends_are_clamped() -> None:
    assert bonus_rules.add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, tzinfo=UTC
    )
    assert bonus_rules.add_months(datetime(2027, 12, 15, tzinfo=UTC), 2) == datetime(
        2028, 2, 15, tzinfo=UTC
    )


def test_perks_are_short_printable_text() -> None:
    assert bonus_rules.check_perk("  Immer   10 % auf Kuchen ") == "Immer 10 % auf Kuchen"
    assert bonus_rules.check_perk("") is None and bonus_rules.check_perk(None) is None
    for bad in ("x" * 101, "bell\x07"):
        with pytest.raises(Refused):
            bonus_rules.check_perk(bad)


@given(
    required=st.integers(1, loyalty.MAX_STAMPS_REQUIRED),
    stamps=st.integers(0, 29),
    bonus=st.integers(1, 500),
)
def test_removing_a_bonus_undoes_giving_it(required: int, stamps: int, bonus: int) -> None:
    program = Program(required, "Kaffee")
    card = CardState(stamps=stamps % required, rewards_available=1, total_stamps=99)
    back = loyalty.remove_bonus(program, loyalty.add_bonus(program, card, bonus), bonus)
    # The reward that was due but not listed (stored before tiers) comes back listed.
    assert back == replace(card, rewards_due=loyalty.due_list(program, card))


def test_a_bonus_whose_reward_was_redeemed_cannot_be_removed() -> None:
    program = Program(2, "Kaffee")
    redeemed = loyalty.redeem(loyalty.add_bonus(program, CardState(), 2))
    with pytest.raises(Refused) as refused:
        loyalty.remove_bonus(program, redeemed, 2)
    assert refused.value.code == "reward_redeemed"


@given(
    required=st.integers(2, loyalty.MAX_STAMPS_REQUIRED),
    tier=st.integers(1, 29),
    stamps=st.integers(0, 29),
    count=st.integers(1, loyalty.MAX_STAMPS_PER_VISIT),
)
def test_bonus_stamps_earn_every_tier_like_stamps(
    required: int, tier: int, stamps: int, count: int
) -> None:
    program = Program(required, "Vita Mix", (loyalty.Tier(1 + tier % (required - 1), "Keks"),))
    card = CardState(stamps=stamps % required, total_stamps=stamps)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    given_as_bonus = loyalty.add_bonus(program, card, count, now)
    assert given_as_bonus == loyalty.stamp(program, card, count, now)
    assert loyalty.remove_bonus(program, given_as_bonus, count) == replace(card, last_visit=now), (
        "taking the bonus back leaves the card as it was (the visit stays)"
    )
