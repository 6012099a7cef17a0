"""The campaign rules: which cards a segment holds, who a campaign reaches (hold-out group,
weekly message limit), and what it may carry and when. Pure: no I/O, imports only the
stamp-card rules (passes/loyalty.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from passes.loyalty import Refused

Segment = Literal["all", "new", "lapsed", "top", "reward_due", "apple", "google"]
SEGMENTS: tuple[str, ...] = get_args(Segment)
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


MAX_MESSAGE_LENGTH = 200
# A campaign may be sent up to SCHEDULE_LEAD ahead; its surprise stamps go out at once.
SCHEDULE_LEAD = timedelta(days=30)
MAX_CAMPAIGN_BONUS = 3


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


def check_campaign(send_at: datetime | None, bonus: int, now: datetime) -> None:
    """A campaign is sent now or within SCHEDULE_LEAD; surprise stamps only with one sent now."""
    if send_at is not None and not now <= send_at <= now + SCHEDULE_LEAD:
        raise Refused("invalid_campaign", "send_at must be in the future, at most 30 days ahead")
    if not 0 <= bonus <= MAX_CAMPAIGN_BONUS or (bonus and send_at is not None):
        raise Refused(
            "invalid_campaign",
            f"bonus stamps must be 0 to {MAX_CAMPAIGN_BONUS}, and are given at once",
        )
