"""The birthday rule: the window before the day, the catch-up after it, one bonus a year,
29 February in other years and windows across the new year."""

from __future__ import annotations

from datetime import date

import pytest

from passes import birthday_rules
from passes.birthday_rules import candidate_days, check_birthday, due_year, gives


def test_due_from_days_before_to_the_day_and_the_catch_up() -> None:
    assert due_year(6, 15, date(2026, 6, 12), 3) == 2026
    assert due_year(6, 15, date(2026, 6, 11), 3) is None
    assert due_year(6, 15, date(2026, 6, 15), 0) == 2026
    last = date(2026, 6, 15 + birthday_rules.CATCH_UP_DAYS)
    assert due_year(6, 15, last, 0) == 2026, "a worker down on the day catches up"
    assert due_year(6, 15, date(2026, 6, 23), 0) is None, "never weeks later"


def test_a_window_across_the_new_year_belongs_to_the_new_birthday() -> None:
    assert due_year(1, 2, date(2025, 12, 26), 7) == 2026
    assert due_year(1, 2, date(2025, 12, 25), 7) is None
    assert due_year(12, 30, date(2027, 1, 4), 0) == 2026, "catching up in January"
    assert gives(1, 2, date(2026, 1, 2), 7, given_year=2026) is None, "given in December"
    assert gives(1, 2, date(2026, 12, 27), 7, given_year=2026) == 2027


def test_29_february_is_28_february_in_other_years() -> None:
    assert due_year(2, 29, date(2027, 2, 28), 0) == 2027
    assert due_year(2, 29, date(2028, 2, 28), 0) is None
    assert due_year(2, 29, date(2028, 2, 29), 0) == 2028
    assert (2, 29) in candidate_days(date(2027, 2, 28), 0, 0)
    assert (2, 29) not in candidate_days(date(2028, 2, 28), 0, 0)


def test_once_per_birthday() -> None:
    assert gives(6, 15, date(2026, 6, 15), 0, given_year=None) == 2026
    assert gives(6, 15, date(2026, 6, 16), 0, given_year=2026) is None
    assert gives(6, 15, date(2027, 6, 15), 0, given_year=2026) == 2027


def test_candidate_days_cover_every_due_birthday() -> None:
    today = date(2026, 1, 3)
    days = candidate_days(today, 7)
    for month, day in ((12, 27), (1, 3), (1, 10)):
        assert (month, day) in days
        assert due_year(month, day, today, 7) is not None
    assert (12, 26) not in days and (1, 11) not in days


@pytest.mark.parametrize(("day", "month"), [(0, 1), (32, 1), (30, 2), (31, 4), (1, 13), (1, 0)])
def test_days_that_do_not_exist_are_refused(day: int, month: int) -> None:
    with pytest.raises(ValueError):
        check_birthday(day, month)


def test_29_february_is_a_birthday() -> None:
    assert check_birthday(29, 2) == (29, 2)
