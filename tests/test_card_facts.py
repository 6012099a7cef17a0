"""The facts every surface shows of a card (passes/card_facts.py): pure, over plain rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from passes import loyalty
from passes.card_facts import CardFacts
from passes.loyalty import CardState, RewardLine
from passes.store.cards import CardRow
from passes.store.shops import ProgramRow

JOINED = datetime(2026, 3, 2, 9, tzinfo=UTC)
LATER = JOINED + timedelta(days=5)
PLAIN = ProgramRow(
    id=1,
    stamps_required=10,
    reward="1 Vita Mix gratis",
    background_color="#3B2A20",
    foreground_color="#ffffff",
    label_color="#eeddcc",
    stamp_color="#ffcc00",
)
TIERED = replace(
    PLAIN,
    tiers=((3, "1 Cookie"), (6, "1 Kaffee")),
    stamp_expiry_days=90,
    reward_expiry_days=30,
    loyal_perk="Immer 10 % auf Kuchen",
)


def card(state: CardState, loyal_since: datetime | None = None) -> CardRow:
    return CardRow(
        id=7,
        shop_id=1,
        program_id=1,
        serial="7K3M9QW2XR4T",
        auth_token="0123456789abcdef0123",
        page_secret="s3cr3t",
        counters=state,
        version=1,
        last_event_id=None,
        pass_modified_at=JOINED,
        last_fetched_at=None,
        created_at=JOINED,
        updated_at=JOINED,
        loyal_since=loyal_since,
    )


def test_a_new_card_waits_for_its_first_tier() -> None:
    facts = CardFacts.of(TIERED, card(CardState()))
    assert (facts.stamps, facts.stamps_required, facts.reward) == (0, 10, "1 Vita Mix gratis")
    assert facts.lines == (
        RewardLine(3, "1 Cookie", 0),
        RewardLine(6, "1 Kaffee", 0),
        RewardLine(10, "1 Vita Mix gratis", 0),
    )
    assert facts.due == () and facts.oldest_due is None
    assert facts.next_reward == (3, "1 Cookie")
    assert facts.stamps_expire_on is None and facts.reward_expires_on is None
    assert facts.perk is None and not facts.voided


def test_due_rewards_by_kind_the_oldest_first_for_the_lock_screen() -> None:
    state = CardState(
        stamps=7,
        rewards_available=3,
        rewards_due=((10, JOINED), (3, LATER), (3, LATER)),
        rewards_redeemed=2,
        total_stamps=37,
        stamps_expired=4,
        rewards_expired=1,
        last_visit=LATER,
    )
    facts = CardFacts.of(TIERED, card(state))
    assert facts.due == (RewardLine(3, "1 Cookie", 2), RewardLine(10, "1 Vita Mix gratis", 1))
    # Lines go by stamp count; the lock screen names the reward waiting longest.
    assert facts.oldest_due == "1 Vita Mix gratis"
    assert facts.next_reward == (3, "1 Vita Mix gratis")
    assert facts.stamps_expire_on == LATER + timedelta(days=90)
    assert facts.reward_expires_on == JOINED + timedelta(days=30)
    counts = (facts.rewards_available, facts.rewards_redeemed, facts.total_stamps)
    assert counts == (3, 2, 37)
    assert (facts.stamps_expired, facts.rewards_expired) == (4, 1)
    assert facts.rewards.due_text(facts.reward, 3) == "2 × 1 Cookie + 1 Vita Mix gratis"


def test_rewards_counted_but_not_listed_are_main_rewards() -> None:
    facts = CardFacts.of(PLAIN, card(CardState(stamps=2, rewards_available=2)))
    assert facts.due == (RewardLine(10, "1 Vita Mix gratis", 2),)
    assert facts.oldest_due == "1 Vita Mix gratis"
    # A plain program lists no tiers on the passes; the due rewards it does.
    assert facts.rewards.tiers == () and facts.rewards.due == (("1 Vita Mix gratis", 2),)


def test_only_a_long_standing_card_shows_the_perk() -> None:
    assert CardFacts.of(TIERED, card(CardState())).perk is None
    assert CardFacts.of(TIERED, card(CardState(), LATER)).perk == "Immer 10 % auf Kuchen"
    assert CardFacts.of(PLAIN, card(CardState(), LATER)).perk is None


def test_a_voided_card_says_so() -> None:
    assert CardFacts.of(PLAIN, card(CardState(stamps=3, voided=True))).voided


@given(st.lists(st.sampled_from(["stamp", "redeem"]), max_size=30))
def test_the_passes_summary_agrees_with_the_lines(steps: list[str]) -> None:
    rules, state = TIERED.rules(), CardState()
    for number, step in enumerate(steps):
        now = JOINED + timedelta(days=number)
        if step == "stamp":
            state = loyalty.stamp(rules, state, 2, now)
        elif state.rewards_available:
            state = loyalty.redeem(state, rules, now=now)
    facts = CardFacts.of(TIERED, card(state))
    summary = facts.rewards
    assert summary.due == tuple((line.reward, line.due) for line in facts.due)
    assert summary.tiers == tuple((line.at, line.reward) for line in facts.lines)
    assert summary.next == facts.next_reward
    assert summary.stamps_expire_on == facts.stamps_expire_on
    assert summary.reward_expires_on == facts.reward_expires_on
    assert sum(line.due for line in facts.lines) == facts.rewards_available
    assert (facts.oldest_due is None) == (facts.rewards_available == 0)
