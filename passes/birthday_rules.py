"""When a card's birthday bonus is due: the window from some days before the birthday to the
day itself, a catch-up after it (for a worker that was down on the day), and one bonus per
birthday, counted by the year the birthday falls in.

Pure: no I/O. Days are calendar days in the shop's local time (the server's time zone, as
campaign times), handed in as a `date`.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

# What the owner may set: bonus stamps (0 = no birthday bonus) and how many days before the
# birthday it may come ("on or just before that day").
MAX_BONUS = 5
MAX_DAYS_BEFORE = 7
# The gift: the bonus stamps, or the stamps missing to the card's next reward, so that reward
# falls due on the birthday.
GIFTS = ("stamps", "reward")
# A bonus missed in its window (the worker was down) is still given this many days after the
# birthday, never later: a late greeting is fine, one weeks later is not.
CATCH_UP_DAYS = 7


def check_birthday(day: int, month: int) -> tuple[int, int]:
    """A day and month that exist in some year (29 February does); ValueError otherwise."""
    if not 1 <= month <= 12:
        raise ValueError("the month must be 1 to 12")
    if not 1 <= day <= calendar.monthrange(2000, month)[1]:
        raise ValueError("no such day in that month")
    return day, month


def birthday_in(year: int, month: int, day: int) -> date:
    """The birthday as celebrated in `year`: 29 February is 28 February in other years."""
    if month == 2 and day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)


def due_year(
    month: int, day: int, today: date, days_before: int, catch_up: int = CATCH_UP_DAYS
) -> int | None:
    """The year of the birthday whose bonus is due `today` (from `days_before` days before it
    to `catch_up` days after), else None. A birthday on 2 January with 7 days before is due
    from 26 December: that bonus belongs to the new year's birthday."""
    for year in (today.year + 1, today.year, today.year - 1):
        birthday = birthday_in(year, month, day)
        if birthday - timedelta(days=days_before) <= today <= birthday + timedelta(days=catch_up):
            return year
    return None


def gives(
    month: int,
    day: int,
    today: date,
    days_before: int,
    given_year: int | None,
    catch_up: int = CATCH_UP_DAYS,
) -> int | None:
    """The birthday's year when its bonus is due today and was not given for it yet."""
    year = due_year(month, day, today, days_before, catch_up)
    return None if year is None or year == given_year else year


def candidate_days(
    today: date, days_before: int, catch_up: int = CATCH_UP_DAYS
) -> list[tuple[int, int]]:
    """Every (month, day) birthday that may be due today, for finding the cards: the days
    from `catch_up` days ago to `days_before` days ahead, with 29 February beside a
    28 February of a year that has no 29th."""
    found: list[tuple[int, int]] = []
    for offset in range(-catch_up, days_before + 1):
        moment = today + timedelta(days=offset)
        found.append((moment.month, moment.day))
        if (moment.month, moment.day) == (2, 28) and not calendar.isleap(moment.year):
            found.append((2, 29))
    return found
