"""Adolescents: the parent's access at 11/12/17/18 with an injected today, the setting off, and
Birthdays ahead."""

from __future__ import annotations

import datetime as dt

import pytest

from services.adolescents import ParentAccess, birthdays_ahead, parent_access
from tests.factories import make_appointment, make_patient, make_practice

TODAY = dt.date(2030, 9, 15)


def born(age: int) -> dt.date:
    return TODAY.replace(year=TODAY.year - age)


@pytest.mark.parametrize(("age", "level"), [
    (11, ParentAccess.full), (12, ParentAccess.limited), (17, ParentAccess.limited),
    (18, ParentAccess.ended),
])
def test_parent_access_by_age(age, level):
    assert parent_access(born(age), today=TODAY, confidential_age=12,
                         minor_age_limit=18) == level
    # The day before the birthday the child is still a year younger.
    day_before = TODAY - dt.timedelta(days=1)
    younger = parent_access(born(age), today=day_before, confidential_age=12, minor_age_limit=18)
    assert younger == {12: ParentAccess.full, 18: ParentAccess.limited}.get(age, level)


def test_confidential_age_off_keeps_full_access_until_the_limit():
    assert parent_access(born(15), today=TODAY, confidential_age=None,
                         minor_age_limit=18) == ParentAccess.full
    assert parent_access(born(18), today=TODAY, confidential_age=None,
                         minor_age_limit=18) == ParentAccess.ended


def test_birthdays_ahead_lists_who_crosses_an_age_by_their_visit(session):
    practice = make_practice(session, timezone="America/New_York")
    visit_at = dt.datetime.combine(TODAY + dt.timedelta(days=30), dt.time(15), tzinfo=dt.UTC)
    turning_12 = make_patient(session, practice, first_name="Twelve", last_name="A",
                              date_of_birth=born(12) + dt.timedelta(days=10))
    turning_18 = make_patient(session, practice, first_name="Adult", last_name="B",
                              date_of_birth=born(18) + dt.timedelta(days=20))
    after_visit = make_patient(session, practice, first_name="Later", last_name="C",
                               date_of_birth=born(12) + dt.timedelta(days=45))
    far_visit = make_patient(session, practice, first_name="Far", last_name="D",
                             date_of_birth=born(12) + dt.timedelta(days=10))
    for patient in (turning_12, turning_18, after_visit):
        make_appointment(session, practice, patient=patient, start_at=visit_at)
    make_appointment(session, practice, patient=far_visit,
                     start_at=visit_at + dt.timedelta(days=60))
    session.commit()
    found = birthdays_ahead(session, practice_id=practice.id, today=TODAY)
    assert [(item.patient_name, item.turns, item.becomes) for item in found] == [
        ("A, Twelve", 12, ParentAccess.limited), ("B, Adult", 18, ParentAccess.ended)]
    assert "own name" in found[1].what


def test_birthdays_ahead_counts_a_leap_day_birth_on_1_march(session):
    # Born 29 February 2012: turns 18 on 1 March 2030 (no 29 February that year). The query's
    # date-of-birth window must not drop them.
    practice = make_practice(session, timezone="America/New_York")
    leap = make_patient(session, practice, first_name="Leap", last_name="Day",
                        date_of_birth=dt.date(2012, 2, 29))
    make_appointment(session, practice, patient=leap,
                     start_at=dt.datetime(2030, 3, 1, 15, tzinfo=dt.UTC))
    session.commit()
    found = birthdays_ahead(session, practice_id=practice.id, today=dt.date(2030, 2, 20))
    assert [(item.patient_name, item.turns, item.on) for item in found] == [
        ("Day, Leap", 18, dt.date(2030, 3, 1))]
