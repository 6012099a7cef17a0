"""The pure rules: stamping, rewards, undo, segments, hold-out; plus properties over sequences."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passes import campaign_rules, loyalty
from passes.campaign_rules import Activity
from passes.loyalty import CardState, Program, Refused

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
PROGRAM = Program(stamps_required=5, reward="Kaffee")


def test_full_cards_turn_into_rewards_and_extra_stamps_carry_over() -> None:
    card = loyalty.stamp(PROGRAM, CardState(), 12)
    assert (card.stamps, card.rewards_available, card.total_stamps) == (2, 2, 12)
    card = loyalty.redeem(card)
    assert (card.rewards_available, card.rewards_redeemed) == (1, 1)


@pytest.mark.parametrize("count", [0, -1, 51, True, 2.5, "3"])
def test_absurd_counts_are_refused(count: object) -> None:
    with pytest.raises(Refused) as refused:
        loyalty.stamp(PROGRAM, CardState(), count)  # type: ignore[arg-type]
    assert refused.value.code == "invalid_count"


def test_redeem_without_reward_and_voided_cards_are_refused() -> None:
    with pytest.raises(Refused, match="no reward"):
        loyalty.redeem(CardState())
    with pytest.raises(Refused) as refused:
        loyalty.stamp(PROGRAM, CardState(voided=True), 1)
    assert refused.value.code == "card_voided"


def test_undo_takes_back_the_reward_the_stamps_completed() -> None:
    card = loyalty.stamp(PROGRAM, CardState(stamps=4), 2)
    assert (card.stamps, card.rewards_available) == (1, 1)
    back = loyalty.undo_stamp(PROGRAM, card, 2)
    assert (back.stamps, back.rewards_available, back.total_stamps) == (4, 0, 0)
    with pytest.raises(Refused) as refused:
        loyalty.undo_stamp(PROGRAM, loyalty.redeem(card), 2)
    assert refused.value.code == "reward_redeemed"


def test_daily_cap() -> None:
    loyalty.check_daily_cap(stamped_today=2, count=1, cap=3)
    loyalty.check_daily_cap(stamped_today=50, count=1, cap=None)
    with pytest.raises(Refused, match="1 left today"):
        loyalty.check_daily_cap(stamped_today=2, count=2, cap=3)


def _card(card_id: int, **changes: object) -> Activity:
    base = Activity(
        card_id=card_id,
        joined=NOW - timedelta(days=100),
        last_visit=NOW - timedelta(days=1),
        visits=1,
        rewards_available=0,
        apple=True,
        google=False,
    )
    return Activity(**{**base.__dict__, **changes})


def test_segments() -> None:
    cards = [
        _card(1, joined=NOW - timedelta(days=3)),
        _card(2, last_visit=NOW - timedelta(days=60)),
        _card(3, visits=40),
        _card(4, rewards_available=1, apple=False, google=True),
        _card(5, voided=True),
    ]
    classes = campaign_rules.visit_classes(cards)
    members = {
        segment: {c.card_id for c in cards if campaign_rules.in_segment(segment, c, NOW, classes)}
        for segment in campaign_rules.SEGMENTS
    }
    assert members["all"] == {1, 2, 3, 4}
    assert members["new"] == {1}
    assert members["lapsed"] == {2}
    assert members["top"] == {3}
    assert members["reward_due"] == {4}
    assert members["google"] == {4}
    assert members["apple"] == {1, 2, 3}


def test_audience_holds_out_a_share_and_respects_the_weekly_limit() -> None:
    cards = [_card(i, messages_last_week=2 if i < 5 else 0) for i in range(25)]
    chosen = campaign_rules.audience(
        "all", cards, NOW, messages_per_week=2, holdout_share=0.1, pick=random.Random(1).sample
    )
    assert chosen.over_limit == [0, 1, 2, 3, 4]
    assert len(chosen.held_out) == 2 and len(chosen.recipients) == 18
    assert not set(chosen.held_out) & set(chosen.recipients)
    assert not set(chosen.over_limit) & (set(chosen.recipients) | set(chosen.held_out))
    with pytest.raises(Refused):
        campaign_rules.audience(
            "vip", cards, NOW, messages_per_week=2, holdout_share=0, pick=random.sample
        )


@pytest.mark.parametrize("text", ["", "   ", "x" * 201, "bell\x07"])
def test_bad_messages_are_refused(text: str) -> None:
    with pytest.raises(Refused):
        campaign_rules.check_message(text)


actions = st.lists(
    st.one_of(
        st.tuples(st.just("stamp"), st.integers(min_value=-3, max_value=60)),
        st.tuples(st.just("redeem"), st.just(0)),
        st.tuples(st.just("undo"), st.integers(min_value=1, max_value=60)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(required=st.integers(min_value=1, max_value=30), steps=actions)
def test_no_sequence_makes_counts_negative_or_rewards_from_nothing(
    required: int, steps: list[tuple[str, int]]
) -> None:
    program = Program(required, "Kaffee")
    card = CardState()
    for action, count in steps:
        try:
            if action == "stamp":
                card = loyalty.stamp(program, card, count)
            elif action == "redeem":
                card = loyalty.redeem(card)
            else:
                card = loyalty.undo_stamp(program, card, count)
        except Refused:
            continue
        assert min(card.stamps, card.rewards_available, card.total_stamps) >= 0
        assert card.stamps < required
        earned = card.rewards_available + card.rewards_redeemed
        assert earned * required + card.stamps == card.total_stamps, "rewards only from stamps"


# --- Reward tiers and expiry ------------------------------------------------------------

TIERED = Program(10, "1 Vita Mix gratis", tiers=(loyalty.Tier(5, "1 Cookie"),))


def test_a_tier_falls_due_on_the_way_and_again_in_the_next_cycle() -> None:
    card = loyalty.stamp(TIERED, CardState(), 4, now=NOW)
    assert card.rewards_available == 0
    assert loyalty.next_reward(TIERED, card) == (1, "1 Cookie")
    card = loyalty.stamp(TIERED, card, 11, now=NOW)  # positions 5..15: 5, 10, 15
    assert card.stamps == 5
    assert [d[0] for d in card.rewards_due] == [5, 10, 5]
    lines = loyalty.reward_lines(TIERED, card)
    assert [(line.at, line.reward, line.due) for line in lines] == [
        (5, "1 Cookie", 2),
        (10, "1 Vita Mix gratis", 1),
    ]
    assert loyalty.next_reward(TIERED, card) == (5, "1 Vita Mix gratis")


def test_redeem_takes_the_named_tier_or_the_oldest() -> None:
    card = loyalty.stamp(TIERED, CardState(), 10, now=NOW)
    taken = loyalty.redeem(card, TIERED, tier=10, now=NOW)
    assert [d[0] for d in taken.rewards_due] == [5]
    with pytest.raises(Refused, match="no reward of 10 stamps") as refused:
        loyalty.redeem(taken, TIERED, tier=10)
    assert refused.value.code == "no_reward_due"
    oldest = loyalty.redeem(card, TIERED)
    assert [d[0] for d in oldest.rewards_due] == [10]
    assert (oldest.rewards_available, oldest.rewards_redeemed) == (1, 1)


def test_undo_takes_back_the_tier_reward_these_stamps_earned() -> None:
    card = loyalty.stamp(TIERED, CardState(stamps=3), 3, now=NOW)
    assert [d[0] for d in card.rewards_due] == [5]
    back = loyalty.undo_stamp(TIERED, card, 3)
    assert (back.stamps, back.rewards_available, back.rewards_due) == (3, 0, ())
    with pytest.raises(Refused) as refused:
        loyalty.undo_stamp(TIERED, loyalty.redeem(card, TIERED, tier=5), 3)
    assert refused.value.code == "reward_redeemed"


def test_tiers_must_lie_below_the_main_reward_ascending() -> None:
    for tiers in (
        (loyalty.Tier(10, "x"),),
        (loyalty.Tier(0, "x"),),
        (loyalty.Tier(5, "a"), loyalty.Tier(3, "b")),
        (loyalty.Tier(5, "a"), loyalty.Tier(5, "b")),
        (loyalty.Tier(5, " "),),
        tuple(loyalty.Tier(i, "x") for i in range(1, 8)),
    ):
        with pytest.raises(ValueError):
            Program(10, "main", tiers=tiers)
    with pytest.raises(ValueError):
        Program(10, "main", stamp_expiry_days=0)


def test_stamps_expire_after_days_without_a_visit() -> None:
    program = Program(10, "main", stamp_expiry_days=30)
    card = loyalty.stamp(program, CardState(), 3, now=NOW)
    assert loyalty.stamps_expire_on(program, card) == NOW + timedelta(days=30)
    assert loyalty.expire(program, card, NOW + timedelta(days=29, hours=23)) is card
    later = loyalty.stamp(program, card, 1, now=NOW + timedelta(days=20))
    assert loyalty.expire(program, later, NOW + timedelta(days=40)) is later, "a visit resets"
    gone = loyalty.expire(program, later, NOW + timedelta(days=50))
    assert (gone.stamps, gone.stamps_expired, gone.total_stamps) == (0, 4, 4)
    assert loyalty.expire(program, gone, NOW + timedelta(days=500)) is gone, "never twice"
    assert loyalty.stamps_expire_on(program, gone) is None


def test_rewards_expire_days_after_they_fell_due() -> None:
    program = Program(2, "main", reward_expiry_days=7)
    card = loyalty.stamp(program, CardState(), 2, now=NOW)
    card = loyalty.stamp(program, card, 2, now=NOW + timedelta(days=3))
    assert loyalty.reward_expires_on(program, card) == NOW + timedelta(days=7)
    one_left = loyalty.expire(program, card, NOW + timedelta(days=8))
    assert (one_left.rewards_available, one_left.rewards_expired) == (1, 1)
    assert loyalty.expire(program, one_left, NOW + timedelta(days=8)) is one_left
    none_left = loyalty.expire(program, one_left, NOW + timedelta(days=11))
    assert (none_left.rewards_available, none_left.rewards_expired) == (0, 2)
    voided = loyalty.void(card)
    assert loyalty.expire(program, voided, NOW + timedelta(days=99)) is voided


def test_rewards_counted_before_they_were_listed_are_main_rewards() -> None:
    legacy = CardState(stamps=1, rewards_available=2, total_stamps=21)
    assert loyalty.due_list(TIERED, legacy) == ((10, None), (10, None))
    taken = loyalty.redeem(legacy, TIERED)
    assert (taken.rewards_available, len(taken.rewards_due)) == (1, 1)
    assert loyalty.redeem(legacy).rewards_available == 1


@st.composite
def programs(draw: st.DrawFn) -> Program:
    required = draw(st.integers(min_value=1, max_value=30))
    ats = draw(st.lists(st.integers(1, max(required - 1, 1)), max_size=5, unique=True))
    tiers = tuple(loyalty.Tier(at, f"tier {at}") for at in sorted(ats) if at < required)
    expiry = st.none() | st.integers(min_value=1, max_value=10)
    return Program(required, "main", tiers, draw(expiry), draw(expiry))


rule_steps = st.lists(
    st.one_of(
        st.tuples(st.just("stamp"), st.integers(min_value=-3, max_value=60)),
        st.tuples(st.just("redeem"), st.none() | st.integers(min_value=0, max_value=31)),
        st.tuples(st.just("undo"), st.integers(min_value=1, max_value=60)),
        st.tuples(st.just("wait"), st.integers(min_value=0, max_value=12)),
        st.tuples(st.just("expire"), st.none()),
        st.tuples(st.just("void"), st.none()),
    ),
    max_size=50,
)


def _crossings(program: Program, start: int, end: int, at: int) -> int:
    """How many stamp positions in (start, end] earn the reward at `at` (closed form)."""
    step = program.stamps_required
    offset = at % step
    return (end - offset) // step - (start - offset) // step


@settings(max_examples=400, deadline=None)
@given(program=programs(), steps=rule_steps)
def test_no_sequence_of_tiers_undo_expiry_and_voids_makes_rewards_from_nothing(
    program: Program, steps: list[tuple[str, int | None]]
) -> None:
    card, now = CardState(), NOW
    # The model: rewards earned per threshold by the stamps that stand, and those redeemed.
    earned = dict.fromkeys(program.thresholds, 0)
    redeemed = dict.fromkeys(program.thresholds, 0)
    for action, value in steps:
        before = card
        try:
            if action == "stamp":
                card = loyalty.stamp(program, card, value, now=now)  # type: ignore[arg-type]
            elif action == "redeem":
                card = loyalty.redeem(card, program, tier=value, now=now)
            elif action == "undo":
                card = loyalty.undo_stamp(program, card, value)  # type: ignore[arg-type]
            elif action == "wait":
                now += timedelta(days=value or 0, hours=1)
            elif action == "expire":
                card = loyalty.expire(program, card, now)
                assert loyalty.expire(program, card, now) is card, "expiry applies once"
            else:
                card = loyalty.void(card)
        except Refused:
            assert card is before
            continue
        if action in ("stamp", "undo"):
            sign = 1 if action == "stamp" else -1
            start, end = sorted((before.stamps, before.stamps + sign * value))  # type: ignore[operator]
            for at in earned:
                earned[at] += sign * _crossings(program, start, end, at)
        if action == "redeem":
            (taken,) = Counter(loyalty.due_list(program, before)) - Counter(card.rewards_due)
            assert value in (None, taken[0])
            redeemed[taken[0]] += 1
        if action == "stamp" and before.voided is False:
            assert card.last_visit == now
        assert min(card.stamps, card.rewards_available, card.total_stamps) >= 0
        assert min(card.rewards_redeemed, card.stamps_expired, card.rewards_expired) >= 0
        assert 0 <= card.stamps < program.stamps_required
        assert card.rewards_available == len(card.rewards_due)
        total_earned = sum(earned.values())
        spent = card.rewards_available + card.rewards_redeemed + card.rewards_expired
        assert spent == total_earned, "every reward comes from stamps, and none vanishes"
        for at, count in earned.items():
            due = sum(1 for d in card.rewards_due if d[0] == at)
            assert due + redeemed[at] <= count, f"no reward at {at} from nothing"
        main = earned[program.stamps_required]
        assert (
            card.total_stamps == card.stamps + card.stamps_expired + program.stamps_required * main
        )
        if card.voided:
            assert before.voided is False or card == before
