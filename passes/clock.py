"""The one clock the product decides by: ledger times, expiry, the undo window, the daily
cap's day, campaign schedules. Passed in once (Service, create_app, the worker), so a test
that moves it moves every one of those facts together."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

# Now, timezone-aware (UTC).
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)


def start_of_day(now: datetime) -> datetime:
    """Midnight UTC of `now`'s day: daily caps count calendar days in UTC."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)
