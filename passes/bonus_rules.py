"""The bonus-stamp rules: promotions (stamps count several times, for a while, for some
cards) and long-standing customers (a bonus once, and a perk from then on). Pure: no I/O,
imports only the stamp-card rules (passes/loyalty.py), whose add_bonus gives the stamps;
passes/bonuses.py applies them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from passes.loyalty import CardState, Refused

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
    # Rewards that expired unredeemed were earned all the same.
    earned = card.rewards_available + card.rewards_redeemed + card.rewards_expired
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
