"""Ages and year shifts: whole birthdays, and 29 February in a year without one landing where
each use wants it (a birthday on 1 March, a cut-off on 28 February)."""

from __future__ import annotations

import datetime as dt

import pytest

from services.ages import FEBRUARY_28, MARCH_1, age_in_years, shift_years

LEAP = dt.date(2012, 2, 29)


@pytest.mark.parametrize(("years", "rule", "expected"), [
    (18, MARCH_1, dt.date(2030, 3, 1)),
    (18, FEBRUARY_28, dt.date(2030, 2, 28)),
    (16, MARCH_1, dt.date(2028, 2, 29)),  # a leap year keeps the day, whatever the rule
    (-1, FEBRUARY_28, dt.date(2011, 2, 28)),
    (-1, MARCH_1, dt.date(2011, 3, 1)),
])
def test_a_leap_day_lands_where_the_rule_says(years, rule, expected):
    assert shift_years(LEAP, years, leap_day_on=rule) == expected


def test_the_default_rule_is_28_february_and_other_days_keep_their_date():
    assert shift_years(LEAP, 1) == dt.date(2013, 2, 28)
    assert shift_years(dt.date(2030, 9, 15), -12) == dt.date(2018, 9, 15)
    assert shift_years(dt.date(2030, 3, 1), -1, leap_day_on=MARCH_1) == dt.date(2029, 3, 1)


def test_a_datetime_keeps_its_time_and_zone():
    moment = dt.datetime(2024, 2, 29, 23, 15, tzinfo=dt.UTC)
    assert shift_years(moment, -6) == dt.datetime(2018, 2, 28, 23, 15, tzinfo=dt.UTC)


def test_the_birthday_rule_agrees_with_age_in_years():
    # The day shift_years(…, MARCH_1) gives is the first day age_in_years counts the new age.
    for years in range(1, 20):
        birthday = shift_years(LEAP, years, leap_day_on=MARCH_1)
        assert age_in_years(LEAP, today=birthday) == years
        assert age_in_years(LEAP, today=birthday - dt.timedelta(days=1)) == years - 1
