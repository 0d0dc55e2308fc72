"""A child's age, the one way the app counts it: whole birthdays in the practice's calendar."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

Day = TypeVar("Day", bound=dt.date)  # a date, or a datetime (which keeps its time and zone)

# Where 29 February lands in a year without one (month, day):
FEBRUARY_28 = (2, 28)  # a cut-off counted back in whole years stays in February
MARCH_1 = (3, 1)  # a birthday, counted on 1 March as age_in_years counts it


def age_in_years(date_of_birth: dt.date, *, today: dt.date) -> int:
    """Whole years from `date_of_birth` to `today` (a 29 February birthday counts on 1 March)."""
    before_birthday = (today.month, today.day) < (date_of_birth.month, date_of_birth.day)
    return today.year - date_of_birth.year - int(before_birthday)


def shift_years(day: Day, years: int, *, leap_day_on: tuple[int, int] = FEBRUARY_28) -> Day:
    """`day` moved by whole calendar years (back when negative); a 29 February that the target
    year lacks falls on `leap_day_on`, FEBRUARY_28 or MARCH_1."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        month, day_of_month = leap_day_on
        return day.replace(year=day.year + years, month=month, day=day_of_month)


def age_in_months(date_of_birth: dt.date, *, today: dt.date) -> int:
    """Whole months from `date_of_birth` to `today` (negative before birth)."""
    months = (today.year - date_of_birth.year) * 12 + today.month - date_of_birth.month
    return months - int(today.day < date_of_birth.day)


def describe_age(date_of_birth: dt.date, *, today: dt.date) -> str:
    """Age as a pediatric front desk says it: months under two years, then years."""
    months = age_in_months(date_of_birth, today=today)
    if months < 0:
        return "not born yet"
    if months < 24:
        return f"{months} mo"
    return f"{months // 12} y"
