"""The stamp-card rules: pure functions over plain values, no I/O, nothing of ours imported."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

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


def void(card: CardState) -> CardState:
    """Void a card (lost, abused): it takes no more stamps or redemptions."""
    return replace(card, voided=True)


def _refuse_voided(card: CardState) -> None:
    if card.voided:
        raise Refused("card_voided", "this card has been voided")


# --- Reaching customers: segments, message limits, hold-out groups ---------------------

SEGMENTS = ("all", "new", "lapsed", "top", "reward_due", "apple", "google")
NEW_DAYS = 30
LAPSED_DAYS = 45
# A/B/C classes by visits: the top fifth of the cards are A, the next three tenths B.
CLASS_A_SHARE = 0.2
CLASS_B_SHARE = 0.5


@dataclass(frozen=True)
class Activity:
    """What the ledger says about one card, enough to place it in segments."""

    card_id: int
    joined: datetime
    last_visit: datetime | None
    visits: int
    rewards_available: int
    apple: bool
    google: bool
    messages_last_week: int = 0
    voided: bool = False


def visit_classes(cards: Sequence[Activity]) -> dict[int, str]:
    """A/B/C class per card id: A the most frequent visitors, C the rest."""
    ranked = sorted(cards, key=lambda a: (-a.visits, a.card_id))
    classes: dict[int, str] = {}
    for position, activity in enumerate(ranked):
        share = position / len(ranked)
        classes[activity.card_id] = (
            "A" if share < CLASS_A_SHARE else "B" if share < CLASS_B_SHARE else "C"
        )
    return classes


def in_segment(segment: str, activity: Activity, now: datetime, classes: Mapping[int, str]) -> bool:
    """Whether a card belongs to `segment` (see SEGMENTS)."""
    if activity.voided:
        return False
    if segment == "all":
        return True
    if segment == "new":
        return now - activity.joined < timedelta(days=NEW_DAYS)
    if segment == "lapsed":
        seen = activity.last_visit or activity.joined
        return now - seen >= timedelta(days=LAPSED_DAYS)
    if segment == "top":
        return classes.get(activity.card_id) == "A" and activity.visits > 0
    if segment == "reward_due":
        return activity.rewards_available > 0
    if segment == "apple":
        return activity.apple
    if segment == "google":
        return activity.google
    raise Refused("unknown_segment", f"segment must be one of: {', '.join(SEGMENTS)}")


@dataclass(frozen=True)
class Audience:
    """Who gets a campaign, who is held out for comparison, who was skipped (message limit)."""

    recipients: list[int]
    held_out: list[int]
    over_limit: list[int]


def audience(
    segment: str,
    cards: Sequence[Activity],
    now: datetime,
    *,
    messages_per_week: int,
    holdout_share: float,
    pick: Callable[[list[int], int], list[int]],
) -> Audience:
    """Split a segment into recipients and a hold-out group; skip cards at their weekly limit.

    `pick(ids, k)` chooses k ids at random (the caller's random source), so the
    hold-out is a fair comparison group rather than the first or last cards.
    """
    if segment not in SEGMENTS:
        raise Refused("unknown_segment", f"segment must be one of: {', '.join(SEGMENTS)}")
    classes = visit_classes(cards)
    members = [a for a in cards if in_segment(segment, a, now, classes)]
    over = [a.card_id for a in members if a.messages_last_week >= messages_per_week]
    eligible = [a.card_id for a in members if a.messages_last_week < messages_per_week]
    held = set(pick(eligible, int(len(eligible) * holdout_share)))
    return Audience(
        recipients=[i for i in eligible if i not in held],
        held_out=sorted(held),
        over_limit=over,
    )


def check_message(text: str) -> str:
    """Campaign texts are short, printable and not empty."""
    cleaned = " ".join(text.split())
    if not 1 <= len(cleaned) <= MAX_MESSAGE_LENGTH:
        raise Refused(
            "invalid_message", f"the message must be 1 to {MAX_MESSAGE_LENGTH} characters"
        )
    if not cleaned.isprintable():
        raise Refused("invalid_message", "the message must be printable text")
    return cleaned


MAX_MESSAGE_LENGTH = 200


def check_daily_cap(stamped_today: int, count: int, cap: int | None) -> None:
    """Refuse stamps beyond the program's cap per card and day (anti-fraud)."""
    if cap is not None and stamped_today + count > cap:
        left = max(cap - stamped_today, 0)
        raise Refused(
            "daily_cap",
            f"at most {cap} stamps per card and day; {left} left today, more from tomorrow",
        )


# --- Promotions: stamps count several times, for a while, for some cards ---------------

MAX_MULTIPLIER = 5
MAX_PROMOTION = timedelta(days=14)
PROMOTION_LEAD = timedelta(days=30)


@dataclass(frozen=True)
class Promotion:
    """Stamps on `card_ids` count `multiplier` times from `starts` until (before) `ends`."""

    id: int
    multiplier: int
    starts: datetime
    ends: datetime
    card_ids: frozenset[int]

    def runs(self, now: datetime) -> bool:
        """Whether the window is open at `now`."""
        return self.starts <= now < self.ends


def check_promotion(multiplier: int, starts: datetime, ends: datetime, now: datetime) -> None:
    """A promotion multiplies by 2 to MAX_MULTIPLIER, lasts up to 14 days, starts within 30."""
    if isinstance(multiplier, bool) or not isinstance(multiplier, int):
        raise Refused("invalid_promotion", "multiplier must be a whole number")
    if not 2 <= multiplier <= MAX_MULTIPLIER:
        raise Refused("invalid_promotion", f"multiplier must be 2 to {MAX_MULTIPLIER}")
    if not starts < ends or ends <= now:
        raise Refused("invalid_promotion", "the promotion must end after it starts, in the future")
    if ends - starts > MAX_PROMOTION:
        raise Refused("invalid_promotion", "a promotion lasts at most 14 days")
    if starts > now + PROMOTION_LEAD:
        raise Refused("invalid_promotion", "a promotion starts within 30 days")


def promotion_bonus(
    count: int, card_id: int, promotions: Sequence[Promotion], now: datetime
) -> tuple[int, Promotion | None]:
    """Extra stamps that `count` stamps earn now, and the promotion giving them.

    Overlapping promotions do not multiply each other: the best one counts.
    """
    running = [p for p in promotions if p.runs(now) and card_id in p.card_ids]
    if not running:
        return 0, None
    best = max(running, key=lambda p: (p.multiplier, -p.id))
    return count * (best.multiplier - 1), best


def add_bonus(program: Program, card: CardState, count: int) -> CardState:
    """Bonus stamps (promotion, long-standing customer): like stamps, without the per-visit cap."""
    if count < 1:
        raise Refused("invalid_count", "a bonus is at least one stamp")
    _refuse_voided(card)
    earned, stamps = divmod(card.stamps + count, program.stamps_required)
    return replace(
        card,
        stamps=stamps,
        rewards_available=card.rewards_available + earned,
        total_stamps=card.total_stamps + count,
    )


def remove_bonus(program: Program, card: CardState, count: int) -> CardState:
    """Take back bonus stamps (their stamp was undone), and the reward they completed if due."""
    if count < 1:
        raise Refused("invalid_count", "a bonus is at least one stamp")
    _refuse_voided(card)
    earned, stamps = divmod(card.stamps - count, program.stamps_required)
    rewards = card.rewards_available + earned  # earned <= 0 here: rewards taken back
    if rewards < 0:
        raise Refused("reward_redeemed", "the reward these stamps completed was already redeemed")
    return replace(
        card, stamps=stamps, rewards_available=rewards, total_stamps=card.total_stamps - count
    )


# --- Long-standing customers: a bonus once, and a perk from then on ---------------------

MAX_LOYAL_CARDS = 50
MAX_LOYAL_MONTHS = 60
MAX_LOYAL_BONUS = 10
MAX_PERK_LENGTH = 100


@dataclass(frozen=True)
class LongStanding:
    """When a card counts as long-standing: after `after_cards` rewards earned or
    `after_months` months since joining, whichever comes first (0 = not by that)."""

    after_cards: int = 0
    after_months: int = 0
    bonus_stamps: int = 0

    @property
    def enabled(self) -> bool:
        """Whether the program has the rule at all."""
        return self.after_cards > 0 or self.after_months > 0


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` calendar months later (the month's last day if it is shorter)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=moment.tzinfo)
    last_day = (following - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def becomes_long_standing(
    rule: LongStanding, card: CardState, joined: datetime, now: datetime, already: bool
) -> bool:
    """Whether the card turns long-standing now (never twice)."""
    if already or not rule.enabled:
        return False
    earned = card.rewards_available + card.rewards_redeemed
    by_cards = rule.after_cards > 0 and earned >= rule.after_cards
    by_months = rule.after_months > 0 and now >= add_months(joined, rule.after_months)
    return by_cards or by_months


def check_perk(text: str | None) -> str | None:
    """The standing perk's text: short and printable; empty means none."""
    cleaned = " ".join((text or "").split())
    if not cleaned:
        return None
    if len(cleaned) > MAX_PERK_LENGTH or not cleaned.isprintable():
        raise Refused(
            "invalid_perk", f"the perk must be up to {MAX_PERK_LENGTH} printable characters"
        )
    return cleaned
