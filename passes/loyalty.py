"""The stamp-card rules: pure functions over plain values, no I/O, nothing of ours imported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

MAX_STAMPS_REQUIRED = 30
MAX_STAMPS_PER_VISIT = 50


class Refused(Exception):
    """A rule refuses the change; `code` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Program:
    """What a shop promises: `stamps_required` stamps earn one reward."""

    stamps_required: int
    reward: str

    def __post_init__(self) -> None:
        if not 1 <= self.stamps_required <= MAX_STAMPS_REQUIRED:
            raise ValueError(f"stamps required must be 1 to {MAX_STAMPS_REQUIRED}")
        if not self.reward.strip():
            raise ValueError("the reward needs a description")


@dataclass(frozen=True)
class CardState:
    """A card's counters. `stamps` counts toward the next reward."""

    stamps: int = 0
    rewards_available: int = 0
    total_stamps: int = 0
    rewards_redeemed: int = 0
    voided: bool = False


Rule = Callable[[CardState], CardState]


def check_count(count: int) -> None:
    """Refuse stamp counts that no visit can produce."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise Refused("invalid_count", "count must be a whole number")
    if not 1 <= count <= MAX_STAMPS_PER_VISIT:
        raise Refused("invalid_count", f"count must be 1 to {MAX_STAMPS_PER_VISIT}")


def stamp(program: Program, card: CardState, count: int = 1) -> CardState:
    """Add `count` stamps; every full card turns into a reward, extra stamps carry over."""
    check_count(count)
    _refuse_voided(card)
    earned, stamps = divmod(card.stamps + count, program.stamps_required)
    return replace(
        card,
        stamps=stamps,
        rewards_available=card.rewards_available + earned,
        total_stamps=card.total_stamps + count,
    )


def redeem(card: CardState) -> CardState:
    """Take one due reward."""
    _refuse_voided(card)
    if card.rewards_available < 1:
        raise Refused("no_reward_due", "no reward is due on this card yet")
    return replace(
        card,
        rewards_available=card.rewards_available - 1,
        rewards_redeemed=card.rewards_redeemed + 1,
    )


def undo_stamp(program: Program, card: CardState, count: int) -> CardState:
    """Take back `count` stamps given by mistake, and the reward they completed, if still due."""
    check_count(count)
    _refuse_voided(card)
    stamps, rewards = card.stamps - count, card.rewards_available
    while stamps < 0:
        stamps += program.stamps_required
        rewards -= 1
    if rewards < 0:
        raise Refused("reward_redeemed", "the reward these stamps completed was already redeemed")
    return replace(
        card, stamps=stamps, rewards_available=rewards, total_stamps=card.total_stamps - count
    )


def stamps_to_next_reward(program: Program, card: CardState) -> int:
    """How many stamps are still missing for the next reward."""
    return program.stamps_required - card.stamps


def _refuse_voided(card: CardState) -> None:
    if card.voided:
        raise Refused("card_voided", "this card has been voided")
