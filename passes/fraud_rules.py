"""Fraud controls the owner sets, as pure rules: a cooldown between two stamps on one card, a
per-person daily stamp limit, and what the dashboard's review list calls unusual.

No I/O: the store counts (store/staff_days.py, store/review.py), these rules decide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from passes.loyalty import Refused

# What the owner may set, and the allowed range of each (programs.*, migration 0026).
COOLDOWN_MINUTES = (1, 1440)
STAFF_DAILY_STAMPS = (1, 10_000)
REVIEW_CARD_STAMPS = (1, 100)
# The review list: the days it looks at (today included), and a person's usual volume: the
# average of their stamps on the days they stamped in the weeks before the day looked at.
REVIEW_DAYS = 7
USUAL_DAYS = 28
# A person's day is unusual above this many times their usual, and only from this many stamps
# (a new person's first busy day, or 6 stamps against a usual 2, is no alarm).
FAR_ABOVE_FACTOR = 3
FAR_ABOVE_AT_LEAST = 20


# Stamps a customer collects at a counter page wait at least this long after the card's last
# stamp, whatever the shop's cooldown: each new code (every 30 s) would otherwise be a stamp
# for someone who stays at the screen.
COUNTER_COOLDOWN_MINUTES = 10


def counter_cooldown(minutes: int | None) -> int:
    """The cooldown of a counter page's stamp: the shop's, and COUNTER_COOLDOWN_MINUTES at
    least."""
    return max(minutes or 0, COUNTER_COOLDOWN_MINUTES)


def cooldown_start(now: datetime, minutes: int | None) -> datetime | None:
    """From when a card's last stamp still blocks the next (None: the program has no cooldown)."""
    return None if minutes is None else now - timedelta(minutes=minutes)


def check_cooldown(last_stamp: datetime | None, now: datetime, minutes: int | None) -> None:
    """Refuse a stamp less than `minutes` after the card's last one (not undone); the refusal
    says when the next is possible (`minutes` and `at` for the staff page's own words)."""
    if minutes is None or last_stamp is None:
        return
    ready = last_stamp + timedelta(minutes=minutes)
    if now >= ready:
        return
    wait = max(1, math.ceil((ready - now).total_seconds() / 60))
    at = ready.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise Refused(
        "cooldown",
        f"one stamp per card every {minutes} {_minutes(minutes)}: "
        f"the next is possible at {at} (in {wait} {_minutes(wait)})",
        {"minutes": wait, "at": at},
    )


def staff_limit_reached(limit: int) -> Refused:
    """The refusal of a stamp past a person's daily limit."""
    return Refused(
        "staff_daily_limit",
        f"this person has given the most stamps allowed per person and day ({limit}); "
        "more from tomorrow, or ask the owner",
        {"limit": limit},
    )


def _minutes(n: int) -> str:
    return "minute" if n == 1 else "minutes"


@dataclass(frozen=True)
class PersonDay:
    """A person's stamps on one day, and their usual day (None: no days before to compare)."""

    staff_id: int
    day: date
    stamps: int
    usual: float | None


def far_above(stamps: int, usual: float | None) -> bool:
    """Whether a person's day stands out: at least FAR_ABOVE_AT_LEAST stamps and more than
    FAR_ABOVE_FACTOR times their usual (no usual yet: the minimum alone)."""
    return stamps >= FAR_ABOVE_AT_LEAST and stamps > FAR_ABOVE_FACTOR * (usual or 0)


def unusual_days(volumes: Mapping[tuple[int, date], int], days: Iterable[date]) -> list[PersonDay]:
    """The person-days among `days` far above that person's usual, busiest first.

    `volumes` holds each person's stamps by (staff id, day), with the USUAL_DAYS before the
    earliest day looked at; days without stamps are absent and do not lower the usual.
    """
    wanted = set(days)
    by_person: dict[int, dict[date, int]] = {}
    for (staff_id, day), stamps in volumes.items():
        by_person.setdefault(staff_id, {})[day] = stamps
    found = []
    for staff_id, person in by_person.items():
        for day in wanted & person.keys():
            start = day - timedelta(days=USUAL_DAYS)
            before = [count for when, count in person.items() if start <= when < day]
            usual = sum(before) / len(before) if before else None
            if far_above(person[day], usual):
                found.append(PersonDay(staff_id, day, person[day], usual))
    return sorted(found, key=lambda entry: (entry.day, entry.stamps), reverse=True)
