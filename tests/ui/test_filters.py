"""The schedule filters' query string: valid values are read, bad or missing ones fall back to
the defaults with a notice in words, and the filters write back only what differs."""

from __future__ import annotations

import datetime as dt

import pytest

from services.practices import NamedRow
from ui.filters import ScheduleFilters, filters_from_query, filters_to_query

TODAY = dt.date(2025, 3, 10)
LATEST = dt.date(2035, 12, 31)
DEFAULTS = ScheduleFilters(start=TODAY, end=TODAY)
LOCATIONS = [NamedRow(id=3, name="Main Street"), NamedRow(id=4, name="Northside")]
PROVIDERS = [NamedRow(id=7, name="Dr. Avery"), NamedRow(id=8, name="Dr. Brooks"),
             NamedRow(id=9, name="Dr. Chen")]


def parse(**params: str) -> ScheduleFilters:
    return filters_from_query(params, defaults=DEFAULTS, locations=LOCATIONS,
                              providers=PROVIDERS, latest=LATEST)


def test_no_parameters_give_the_defaults_without_notices():
    assert parse() == DEFAULTS


def test_valid_values_are_read():
    filters = parse(start="2025-03-01", end="2025-03-07", location="4", providers="9,7",
                    q="  Rivera ", cancelled="yes")
    assert (filters.start, filters.end) == (dt.date(2025, 3, 1), dt.date(2025, 3, 7))
    assert filters.location_id == 4
    assert filters.provider_ids == (7, 9)
    assert filters.search == "Rivera"
    assert filters.include_cancelled is True
    assert filters.notices == ()


def test_a_date_that_is_not_a_date_falls_back_with_a_notice_naming_the_field():
    filters = parse(start="03/01/2025", end="2025-02-30")
    assert (filters.start, filters.end) == (TODAY, TODAY)
    assert len(filters.notices) == 2
    assert filters.notices[0].startswith("Start Date “03/01/2025” in the link is not a date")
    assert filters.notices[1].startswith("End Date “2025-02-30”")
    assert "03/10/2025" in filters.notices[0]  # the fallback, written as people write it


def test_a_link_with_only_a_later_start_date_shows_that_day():
    # e.g. a link written in UTC just after midnight, before the practice's own midnight
    filters = parse(start="2025-03-11")
    assert (filters.start, filters.end) == (dt.date(2025, 3, 11), dt.date(2025, 3, 11))
    assert filters.notices == ()
    assert parse(start="2025-03-01").end == TODAY  # an earlier start keeps today as the end


def test_a_date_out_of_range_falls_back():
    filters = parse(start="1999-12-31", end="2036-01-01")
    assert (filters.start, filters.end) == (TODAY, TODAY)
    assert "out of range" in filters.notices[0] and "out of range" in filters.notices[1]


def test_an_unknown_location_shows_all_locations():
    for raw in ["99", "Main Street", "-3"]:
        filters = parse(location=raw)
        assert filters.location_id is None
        assert filters.notices == (f"Location “{raw}” in the link is not one of this "
                                   "practice's locations; showing all locations.",)


def test_unknown_providers_are_left_out_and_the_known_ones_kept():
    filters = parse(providers="7,99,x")
    assert filters.provider_ids == (7,)
    assert filters.notices == ("Provider(s) 99, x in the link are not this practice's "
                               "providers; they were left out.",)


def test_only_unknown_providers_show_all_providers():
    filters = parse(providers="99")
    assert filters.provider_ids is None
    assert filters.notices[0].endswith("showing all providers.")


def test_every_provider_chosen_reads_as_all():
    assert parse(providers="7,8,9,8").provider_ids is None


def test_an_empty_value_keeps_the_default_silently():
    filters = parse(location=" ", providers="")
    assert (filters.location_id, filters.provider_ids, filters.notices) == (None, None, ())


def test_a_long_search_is_shortened_with_a_notice():
    filters = parse(q="x" * 150)
    assert filters.search == "x" * 100
    assert "shortened" in filters.notices[0]


@pytest.mark.parametrize(("raw", "shown"), [("1", True), ("on", True), ("TRUE", True),
                                            ("0", False), ("off", False), ("no", False)])
def test_cancelled_flag_words(raw, shown):
    filters = parse(cancelled=raw)
    assert filters.include_cancelled is shown
    assert filters.notices == ()


def test_a_cancelled_flag_that_is_not_one_or_zero_hides_them_with_a_notice():
    filters = parse(cancelled="maybe")
    assert filters.include_cancelled is False
    assert filters.notices == ("Show cancelled “maybe” in the link is not 1 or 0; cancelled "
                               "appointments stay hidden.",)


def test_a_backwards_range_is_read_but_not_valid():
    filters = parse(start="2025-03-09", end="2025-03-01")
    assert not filters.valid
    assert filters.error.startswith("End Date (03/01/2025) is before Start Date (03/09/2025)")


def test_to_query_writes_only_what_differs_and_reads_back_the_same():
    chosen = ScheduleFilters(start=dt.date(2025, 3, 1), end=TODAY, location_id=3,
                             provider_ids=(8,), search="Sam", include_cancelled=True)
    params = filters_to_query(chosen, defaults=DEFAULTS)
    assert params == {"start": "2025-03-01", "location": "3", "providers": "8", "q": "Sam",
                      "cancelled": "1"}
    assert parse(**params) == chosen
    assert filters_to_query(DEFAULTS, defaults=DEFAULTS) == {}
