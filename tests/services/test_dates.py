"""The one way staff read a day and a moment: MM/DD/YYYY, 12-hour, in the practice's timezone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from services.dates import date_text, in_practice_time, moment_text, practice_day, time_text

UTC = dt.UTC


def test_a_day_is_written_month_day_year():
    assert date_text(dt.date(2026, 3, 8)) == "03/08/2026"
    assert date_text(dt.date(2026, 3, 8), weekday=True) == "Sun 03/08/2026"
    assert date_text(dt.date(2026, 3, 8), weekday=True, year=False) == "Sun 03/08"
    assert date_text(None) == ""


@pytest.mark.parametrize(("hour", "minute", "shown"), [
    (0, 0, "12:00 AM"), (0, 5, "12:05 AM"), (9, 30, "9:30 AM"), (11, 59, "11:59 AM"),
    (12, 0, "12:00 PM"), (13, 5, "1:05 PM"), (23, 59, "11:59 PM"),
])
def test_the_clock_is_12_hour_without_a_leading_zero(hour, minute, shown):
    assert time_text(dt.time(hour, minute)) == shown
    assert time_text(dt.datetime(2026, 1, 2, hour, minute)) == shown


def test_seconds_are_written_only_when_asked():
    assert time_text(dt.time(8, 5, 9), seconds=True) == "8:05:09 AM"


@pytest.mark.parametrize(("utc", "zone", "shown"), [
    # US daylight time began on Sunday 03/08/2026 at 2:00 AM local.
    (dt.datetime(2026, 3, 8, 6, 30, tzinfo=UTC), "America/New_York", "03/08/2026 1:30 AM"),
    (dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC), "America/New_York", "03/08/2026 3:30 AM"),
    (dt.datetime(2026, 3, 8, 9, 30, tzinfo=UTC), "America/Los_Angeles", "03/08/2026 1:30 AM"),
    (dt.datetime(2026, 3, 8, 10, 30, tzinfo=UTC), "America/Los_Angeles", "03/08/2026 3:30 AM"),
    # Late evening in the practice is already the next day in UTC.
    (dt.datetime(2026, 11, 1, 4, 0, tzinfo=UTC), "America/Los_Angeles", "10/31/2026 9:00 PM"),
    (dt.datetime(2026, 11, 1, 5, 0, tzinfo=UTC), "America/New_York", "11/01/2026 1:00 AM"),
    (dt.datetime(2026, 11, 1, 6, 0, tzinfo=UTC), "America/New_York", "11/01/2026 1:00 AM"),
])
def test_a_utc_moment_is_shown_in_the_practices_timezone_across_a_clock_change(utc, zone, shown):
    assert moment_text(utc, zone) == shown
    assert moment_text(utc, zoneinfo.ZoneInfo(zone)) == shown


def test_a_stored_moment_without_a_zone_is_taken_as_utc():
    naive = dt.datetime(2026, 7, 1, 16, 0)
    assert in_practice_time(naive, "America/New_York") == dt.datetime(
        2026, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    assert moment_text(naive, "America/New_York") == "07/01/2026 12:00 PM"


def test_a_moment_without_a_timezone_to_move_into_is_written_as_it_is():
    assert moment_text(dt.datetime(2026, 7, 1, 0, 0)) == "07/01/2026 12:00 AM"
    assert moment_text(dt.datetime(2026, 7, 1, 14, 7, 3), weekday=True, seconds=True) == \
        "Wed 07/01/2026 2:07:03 PM"
    assert moment_text(None, "America/New_York") == ""


def test_the_practices_day_of_a_moment_is_its_local_calendar_day():
    late = dt.datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 9:00 PM on 10/31 in Los Angeles
    assert practice_day(late, "America/Los_Angeles") == dt.date(2026, 10, 31)
    assert practice_day(late, "America/New_York") == dt.date(2026, 11, 1)
    assert practice_day(None, "America/New_York") is None
