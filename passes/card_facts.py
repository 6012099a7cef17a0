"""What a card shows, worked out once from its program and counters: the API's answer, the
card and staff pages, the Apple and Google passes and the CLI render these facts.

Pure: the rules are loyalty.py's; this module gathers their answers for one card and says how a
pass sums its rewards up (RewardSummary, the same on Apple and Google).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from passes import loyalty


@dataclass(frozen=True)
class RewardSummary:
    """What a pass shows of a card's rewards, the same on Apple and Google."""

    # Every reward (stamp count, text) when the program has tiers; else empty.
    tiers: tuple[tuple[int, str], ...] = ()
    # The due rewards as (text, how many).
    due: tuple[tuple[str, int], ...] = ()
    # Stamps missing to the next reward, and what it is.
    next: tuple[int, str] | None = None
    stamps_expire_on: datetime | None = None
    reward_expires_on: datetime | None = None

    def due_text(self, main_reward: str, rewards_available: int) -> str:
        """ "1 Cookie + 2 × 1 Vita Mix": what waits (a card without a list: main rewards)."""
        due = self.due or ((main_reward, rewards_available),)
        return " + ".join(f"{n} × {reward}" if n > 1 else reward for reward, n in due)

    def tiers_text(self) -> str:
        """Every reward of a tiered program, one "at: reward" a line."""
        return "\n".join(f"{at}: {reward}" for at, reward in self.tiers)

    def shows_next(self, rewards_available: int) -> bool:
        """Whether "noch N bis …" is worth a line of its own (tiers, or a reward shown instead)."""
        return self.next is not None and bool(self.tiers or rewards_available)

    @classmethod
    def of(
        cls,
        program: loyalty.Program,
        lines: Sequence[loyalty.RewardLine],
        upcoming: tuple[int, str],
        stamps_expire_on: datetime | None,
        reward_expires_on: datetime | None,
    ) -> RewardSummary:
        """The summary from a card's reward lines, next reward and expiry dates."""
        return cls(
            tiers=tuple((line.at, line.reward) for line in lines) if program.tiers else (),
            due=tuple((line.reward, line.due) for line in lines if line.due),
            next=upcoming,
            stamps_expire_on=stamps_expire_on,
            reward_expires_on=reward_expires_on,
        )


def reward_summary(program: loyalty.Program, card: loyalty.CardState) -> RewardSummary:
    """The card's rewards as a pass shows them."""
    return RewardSummary.of(
        program,
        loyalty.reward_lines(program, card),
        loyalty.next_reward(program, card),
        loyalty.stamps_expire_on(program, card),
        loyalty.reward_expires_on(program, card),
    )


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
    rewards: RewardSummary

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
            rewards=RewardSummary.of(rules, lines, upcoming, stamps_end, reward_end),
        )

    @property
    def due(self) -> tuple[loyalty.RewardLine, ...]:
        """The rewards due now, by kind (a tiered program may have several)."""
        return tuple(line for line in self.lines if line.due)
