"""The pure rules: stamping, rewards, undo, segments, hold-out; plus properties over sequences."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passes import loyalty
from passes.loyalty import Activity, CardState, Program, Refused

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
    classes = loyalty.visit_classes(cards)
    members = {
        segment: {c.card_id for c in cards if loyalty.in_segment(segment, c, NOW, classes)}
        for segment in loyalty.SEGMENTS
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
    chosen = loyalty.audience(
        "all", cards, NOW, messages_per_week=2, holdout_share=0.1, pick=random.Random(1).sample
    )
    assert chosen.over_limit == [0, 1, 2, 3, 4]
    assert len(chosen.held_out) == 2 and len(chosen.recipients) == 18
    assert not set(chosen.held_out) & set(chosen.recipients)
    assert not set(chosen.over_limit) & (set(chosen.recipients) | set(chosen.held_out))
    with pytest.raises(Refused):
        loyalty.audience(
            "vip", cards, NOW, messages_per_week=2, holdout_share=0, pick=random.sample
        )


@pytest.mark.parametrize("text", ["", "   ", "x" * 201, "bell\x07"])
def test_bad_messages_are_refused(text: str) -> None:
    with pytest.raises(Refused):
        loyalty.check_message(text)


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
