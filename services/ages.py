"""A child's age, the one way the app counts it: whole birthdays in the practice's calendar."""

from __future__ import annotations

import datetime as dt


def age_in_years(date_of_birth: dt.date, *, today: dt.date) -> int:
    """Whole years from `date_of_birth` to `today` (a 29 February birthday counts on 1 March)."""
    before_birthday = (today.month, today.day) < (date_of_birth.month, date_of_birth.day)
    return today.year - date_of_birth.year - int(before_birthday)


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
