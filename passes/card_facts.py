"""What a card shows, worked out once from its program and counters: the API's answer, the
card and staff pages, the Apple and Google passes and the CLI render these facts.

Pure: the rules are loyalty.py's; this module only gathers their answers for one card.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from passes import loyalty


class ShownProgram(Protocol):
    """What the facts read of a shop's program (a ProgramRow)."""

    @property
    def loyal_perk(self) -> str | None:
        """The long-standing customers' perk, if the shop offers one."""

    def rules(self) -> loyalty.Program:
        """The program as the loyalty rules see it."""


class ShownCard(Protocol):
    """What the facts read of a card (a CardRow)."""

    @property
    def counters(self) -> loyalty.CardState:
        """The card's counters."""

    @property
    def loyal_since(self) -> datetime | None:
        """Since when the card is long-standing (None: it is not)."""


@dataclass(frozen=True)
class CardFacts:
    """A card's stamps and rewards as every surface shows them."""

    stamps: int
    stamps_required: int
    # The main reward, earned at stamps_required.
    reward: str
    rewards_available: int
    rewards_redeemed: int
    total_stamps: int
    stamps_expired: int
    rewards_expired: int
    voided: bool
    # Every reward of the program, ascending, with how many of it are due.
    lines: tuple[loyalty.RewardLine, ...]
    # Stamps missing to the next reward, and what it is.
    next_reward: tuple[int, str]
    # The oldest due reward (the lock screen names it); None when none is due.
    oldest_due: str | None
    stamps_expire_on: datetime | None
    reward_expires_on: datetime | None
    # A long-standing customer's standing perk (None: not long-standing, or no perk).
    perk: str | None
    # The rewards as both passes show them.
    rewards: loyalty.RewardSummary

    @classmethod
    def of(cls, program: ShownProgram, card: ShownCard) -> CardFacts:
        """The facts of `card` under `program`."""
        rules, state = program.rules(), card.counters
        due = loyalty.due_list(rules, state)
        lines = loyalty.reward_lines(rules, state)
        upcoming = loyalty.next_reward(rules, state)
        stamps_end = loyalty.stamps_expire_on(rules, state)
        reward_end = loyalty.reward_expires_on(rules, state)
        return cls(
            stamps=state.stamps,
            stamps_required=rules.stamps_required,
            reward=rules.reward,
            rewards_available=state.rewards_available,
            rewards_redeemed=state.rewards_redeemed,
            total_stamps=state.total_stamps,
            stamps_expired=state.stamps_expired,
            rewards_expired=state.rewards_expired,
            voided=state.voided,
            lines=tuple(lines),
            next_reward=upcoming,
            oldest_due=rules.reward_at(due[0][0]) if due else None,
            stamps_expire_on=stamps_end,
            reward_expires_on=reward_end,
            perk=program.loyal_perk if card.loyal_since is not None else None,
            # The same lines, next reward and dates, as the passes show them.
            rewards=loyalty.RewardSummary.of(rules, lines, upcoming, stamps_end, reward_end),
        )

    @property
    def due(self) -> tuple[loyalty.RewardLine, ...]:
        """The rewards due now, by kind (a tiered program may have several)."""
        return tuple(line for line in self.lines if line.due)
