"""The stamp-card rules: pure functions over plain values, no I/O, nothing of ours imported.
The campaign and bonus rules build on them (passes/campaign_rules.py, passes/bonus_rules.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

MAX_STAMPS_REQUIRED = 30
MAX_STAMPS_PER_VISIT = 50
MAX_TIERS = 5
MAX_REWARD_LENGTH = 200
MAX_EXPIRY_DAYS = 3650


class Refused(ValueError):
    """A rule refuses the change; `code` is stable, the message says why. A ValueError: the
    values given are what the rule refuses (passes/errors.py says how each code is answered)."""

    def __init__(self, code: str, message: str, params: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.code = code
        # Values the message names (when the next stamp is possible…), for the pages' own words.
        self.params: Mapping[str, object] = params or {}


@dataclass(frozen=True)
class Tier:
    """An intermediate reward: reaching `at` stamps within a card cycle earns `reward`."""

    at: int
    reward: str


@dataclass(frozen=True)
class Program:
    """What a shop promises: `stamps_required` stamps earn the main reward (one card cycle).

    Tiers are smaller rewards on the way; stamps and rewards may expire (None: never).
    """

    stamps_required: int
    reward: str
    tiers: tuple[Tier, ...] = ()
    stamp_expiry_days: int | None = None
    reward_expiry_days: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.stamps_required <= MAX_STAMPS_REQUIRED:
            raise Refused("invalid_program", f"stamps required must be 1 to {MAX_STAMPS_REQUIRED}")
        _check_reward_text(self.reward)
        check_tiers(self.stamps_required, self.tiers)
        for days in (self.stamp_expiry_days, self.reward_expiry_days):
            if days is not None and not 1 <= days <= MAX_EXPIRY_DAYS:
                raise Refused("invalid_program", f"expiry must be 1 to {MAX_EXPIRY_DAYS} days")

    @property
    def thresholds(self) -> tuple[int, ...]:
        """Every stamp count within a cycle that earns a reward, ascending (the main one last)."""
        return (*(tier.at for tier in self.tiers), self.stamps_required)

    def reward_at(self, at: int) -> str:
        """The reward earned at `at` stamps (a tier removed since keeps a plain description)."""
        if at == self.stamps_required:
            return self.reward
        for tier in self.tiers:
            if tier.at == at:
                return tier.reward
        return f"★ {at}"


def _check_reward_text(reward: str) -> None:
    if not reward.strip():
        raise Refused("invalid_program", "the reward needs a description")
    if len(reward) > MAX_REWARD_LENGTH or not reward.isprintable():
        raise Refused(
            "invalid_program", f"a reward is 1 to {MAX_REWARD_LENGTH} printable characters"
        )


def check_tiers(stamps_required: int, tiers: Sequence[Tier]) -> None:
    """Tiers lie strictly below the main reward, ascending, one reward per stamp count."""
    if len(tiers) > MAX_TIERS:
        raise Refused("invalid_program", f"a program has at most {MAX_TIERS} reward tiers")
    previous = 0
    for tier in tiers:
        if isinstance(tier.at, bool) or not previous < tier.at < stamps_required:
            raise Refused(
                "invalid_program",
                f"tiers must be distinct stamp counts from 1 to {stamps_required - 1}, ascending",
            )
        _check_reward_text(tier.reward)
        previous = tier.at


# One due reward: the stamp count that earned it, and since when it is due
# (None: as of the change that records it; the store writes that moment).
Due = tuple[int, datetime | None]


@dataclass(frozen=True)
class CardState:
    """A card's counters. `stamps` counts toward the next reward.

    `rewards_due` lists every due reward, oldest first; `rewards_available` is their number.
    `last_visit` (the last stamp or redemption) starts the stamps' expiry clock.
    """

    stamps: int = 0
    rewards_available: int = 0
    total_stamps: int = 0
    rewards_redeemed: int = 0
    voided: bool = False
    rewards_due: tuple[Due, ...] = ()
    stamps_expired: int = 0
    rewards_expired: int = 0
    last_visit: datetime | None = None


def check_count(count: int) -> None:
    """Refuse stamp counts that no visit can produce."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise Refused("invalid_count", "count must be a whole number")
    if not 1 <= count <= MAX_STAMPS_PER_VISIT:
        raise Refused("invalid_count", f"count must be 1 to {MAX_STAMPS_PER_VISIT}")


def due_list(program: Program, card: CardState) -> tuple[Due, ...]:
    """Every due reward, oldest first; rewards counted but not listed are main rewards."""
    missing = card.rewards_available - len(card.rewards_due)
    if missing <= 0:
        return card.rewards_due
    return ((program.stamps_required, None),) * missing + card.rewards_due


def _earned_at(program: Program, position: int) -> int | None:
    """The threshold reached by the stamp that moves a card to `position` in its cycle."""
    spot = position % program.stamps_required
    if spot == 0:
        return program.stamps_required
    return spot if program.tiers and spot in program.thresholds else None


def stamp(
    program: Program, card: CardState, count: int = 1, now: datetime | None = None
) -> CardState:
    """Add `count` stamps; each threshold passed makes its reward due, extra stamps carry over."""
    check_count(count)
    return _add_stamps(program, card, count, now)


def _add_stamps(program: Program, card: CardState, count: int, now: datetime | None) -> CardState:
    _refuse_voided(card)
    card = _settled(program, card, now)
    reached = (_earned_at(program, k) for k in range(card.stamps + 1, card.stamps + count + 1))
    earned = tuple((at, now) for at in reached if at is not None)
    dues = due_list(program, card) + earned
    return replace(
        card,
        stamps=(card.stamps + count) % program.stamps_required,
        rewards_available=len(dues),
        rewards_due=dues,
        total_stamps=card.total_stamps + count,
        last_visit=now,
    )


def _settled(program: Program, card: CardState, now: datetime | None) -> CardState:
    """A card with stamps at or past the goal (it was lowered since they were given): each
    full goal makes the main reward due, the rest carry over."""
    full, stamps = divmod(card.stamps, program.stamps_required)
    if not full:
        return card
    dues = due_list(program, card) + ((program.stamps_required, now),) * full
    return replace(card, stamps=stamps, rewards_available=len(dues), rewards_due=dues)


def move_goal(program: Program, card: CardState, old_goal: int) -> CardState:
    """A card in progress when the stamps required moved from `old_goal` to the program's:
    it keeps its stamps; a main reward already due stays the main reward; at or past the
    new goal, the main reward is due at once (extra stamps carry over). Returns `card`
    itself when nothing changes."""
    goal = program.stamps_required
    if card.voided or goal == old_goal:
        return card
    dues = due_list(program, card)
    moved = tuple((goal if at == old_goal else at, since) for at, since in dues)
    after = _settled(program, replace(card, rewards_due=moved), None)
    return card if moved == dues and after.stamps == card.stamps else after


def redeem(
    card: CardState,
    program: Program | None = None,
    tier: int | None = None,
    now: datetime | None = None,
) -> CardState:
    """Take one due reward: the one earned at `tier` stamps, else the oldest due."""
    _refuse_voided(card)
    dues = card.rewards_due if program is None else due_list(program, card)
    # Without the program, rewards counted but not listed are the oldest (main rewards).
    unlisted = card.rewards_available - len(dues)
    if tier is None and unlisted > 0:
        left = dues
    else:
        index = next((i for i, due in enumerate(dues) if tier in (None, due[0])), None)
        if index is None:
            what = "no reward" if tier is None else f"no reward of {tier} stamps"
            raise Refused("no_reward_due", f"{what} is due on this card yet")
        left = dues[:index] + dues[index + 1 :]
    return replace(
        card,
        rewards_available=card.rewards_available - 1,
        rewards_due=left,
        rewards_redeemed=card.rewards_redeemed + 1,
        last_visit=now if now is not None else card.last_visit,
    )


def undo_stamp(program: Program, card: CardState, count: int) -> CardState:
    """Take back `count` stamps given by mistake, and the rewards they completed, if still due."""
    check_count(count)
    return _take_stamps(program, card, count)


def _take_stamps(program: Program, card: CardState, count: int) -> CardState:
    _refuse_voided(card)
    dues = list(due_list(program, card))
    for position in range(card.stamps, card.stamps - count, -1):
        at = _earned_at(program, position)
        if at is None:
            continue
        # The newest due reward of that threshold is the one these stamps completed.
        index = next((i for i in reversed(range(len(dues))) if dues[i][0] == at), None)
        if index is None:
            raise Refused(
                "reward_redeemed", "the reward these stamps completed was already redeemed"
            )
        del dues[index]
    return replace(
        card,
        stamps=(card.stamps - count) % program.stamps_required,
        rewards_available=len(dues),
        rewards_due=tuple(dues),
        total_stamps=card.total_stamps - count,
    )


def expire(program: Program, card: CardState, now: datetime) -> CardState:
    """Drop stamps after `stamp_expiry_days` without a visit and rewards due that long.

    Returns `card` itself when nothing expires, so callers know there is nothing to record.
    """
    if card.voided:
        return card
    result = card
    stamps_end = stamps_expire_on(program, card)
    if stamps_end is not None and now >= stamps_end:
        result = replace(result, stamps=0, stamps_expired=card.stamps_expired + card.stamps)
    days = program.reward_expiry_days
    if days is not None and card.rewards_available:
        dues = due_list(program, card)
        kept = tuple(due for due in dues if due[1] is None or now < due[1] + timedelta(days=days))
        if len(kept) < len(dues):
            result = replace(
                result,
                rewards_due=kept,
                rewards_available=len(kept),
                rewards_expired=card.rewards_expired + len(dues) - len(kept),
            )
    return result


def stamps_expire_on(program: Program, card: CardState) -> datetime | None:
    """When the card's stamps expire unless it is visited before (None: they do not)."""
    days = program.stamp_expiry_days
    if days is None or card.stamps == 0 or card.last_visit is None:
        return None
    return card.last_visit + timedelta(days=days)


def reward_expires_on(program: Program, card: CardState) -> datetime | None:
    """When the oldest due reward expires (None: none is due, or rewards do not expire)."""
    days = program.reward_expiry_days
    known = [due[1] for due in due_list(program, card) if due[1] is not None]
    if days is None or not known:
        return None
    return min(known) + timedelta(days=days)


@dataclass(frozen=True)
class RewardLine:
    """One reward of the program with how many of it are due on a card."""

    at: int
    reward: str
    due: int


def reward_lines(program: Program, card: CardState) -> list[RewardLine]:
    """Every reward of the program, ascending, with its due count (and any left from old tiers)."""
    counts: dict[int, int] = dict.fromkeys(program.thresholds, 0)
    for at, _ in due_list(program, card):
        counts[at] = counts.get(at, 0) + 1
    return [RewardLine(at, program.reward_at(at), counts[at]) for at in sorted(counts)]


def next_reward(program: Program, card: CardState) -> tuple[int, str]:
    """How many stamps are missing to the next reward, and what it is."""
    # A card not yet moved to a lowered goal (a moment after the change) gets the main
    # reward with its next stamp at the latest.
    at = min((t for t in program.thresholds if t > card.stamps), default=program.stamps_required)
    return max(at - card.stamps, 1), program.reward_at(at)


def void(card: CardState) -> CardState:
    """Void a card (lost, abused): it takes no more stamps or redemptions."""
    return replace(card, voided=True)


def _refuse_voided(card: CardState) -> None:
    if card.voided:
        raise Refused("card_voided", "this card has been voided")


# --- Limits beyond one visit, and bonus stamps ----------------------------------------


def check_daily_cap(stamped_today: int, count: int, cap: int | None) -> None:
    """Refuse stamps beyond the program's cap per card and day (anti-fraud)."""
    if cap is not None and stamped_today + count > cap:
        left = max(cap - stamped_today, 0)
        raise Refused(
            "daily_cap",
            f"at most {cap} {'stamp' if cap == 1 else 'stamps'} per card and day; "
            f"{left} left today, more from tomorrow",
        )


def add_bonus(
    program: Program, card: CardState, count: int, now: datetime | None = None
) -> CardState:
    """Bonus stamps (promotion, long-standing customer): like stamps, rewards of every tier
    they reach included, without the per-visit cap."""
    if count < 1:
        raise Refused("invalid_count", "a bonus is at least one stamp")
    return _add_stamps(program, card, count, now)


def remove_bonus(program: Program, card: CardState, count: int) -> CardState:
    """Take back bonus stamps (their stamp was undone), and the rewards they completed if due."""
    if count < 1:
        raise Refused("invalid_count", "a bonus is at least one stamp")
    return _take_stamps(program, card, count)
