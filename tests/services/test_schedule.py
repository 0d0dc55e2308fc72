"""The schedule query: filters, date edges in the practice's timezone, scoping, counts, paging
and the portal status badge of each row."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

import pytest

from models import AppointmentStatus, Enrollment, EnrollmentStatus
from services.errors import InvalidInput
from services.schedule import (
    ScheduleCriteria,
    day_bounds,
    describe_age,
    list_schedule,
    search_terms,
    summarize_schedule,
)
from services.status import PortalStatus, derive_status
from tests.factories import (
    make_appointment,
    make_guardian,
    make_location,
    make_patient,
    make_practice,
    make_provider,
)

NEW_YORK = "America/New_York"
NOW = dt.datetime(2025, 6, 10, 15, 0, tzinfo=dt.UTC)


def at(day: dt.date, hour: int, minute: int = 0, *, timezone: str = NEW_YORK,
       fold: int = 0) -> dt.datetime:
    """A wall-clock time in `timezone`, as the aware UTC datetime the database stores."""
    local = dt.datetime.combine(day, dt.time(hour, minute, fold=fold),
                                tzinfo=zoneinfo.ZoneInfo(timezone))
    return local.astimezone(dt.UTC)


def ids(session, practice, *, page: int = 1, page_size: int = 100, now=NOW, **criteria):
    result = list_schedule(session, practice_id=practice.id, criteria=ScheduleCriteria(**criteria),
                           page=page, page_size=page_size, now=now)
    return [row.appointment_id for row in result.rows]


def enroll(session, patient, status: str, *, expires_at: dt.datetime | None = None,
           issued_at: dt.datetime | None = None) -> Enrollment:
    enrollment = Enrollment(
        practice_id=patient.practice_id, patient_id=patient.id, status=status,
        link_token=uuid.uuid4().hex, issued_at=issued_at or NOW - dt.timedelta(days=1),
        expires_at=expires_at,
    )
    session.add(enrollment)
    session.flush()
    return enrollment


@pytest.fixture
def clinic(session):
    """A New York practice with two locations, three providers and one patient."""
    practice = make_practice(session, timezone=NEW_YORK)
    main, north = make_location(session, practice), make_location(session, practice)
    providers = [make_provider(session, practice) for _ in range(3)]
    patient = make_patient(session, practice)
    return practice, (main, north), providers, patient


def visit(session, clinic, start_at, **fields):
    practice, (main, _), providers, patient = clinic
    fields.setdefault("location", main)
    fields.setdefault("provider", providers[0])
    fields.setdefault("patient", patient)
    return make_appointment(session, practice, start_at=start_at, **fields)


# --- dates -------------------------------------------------------------------------------

def test_one_day_runs_from_local_midnight_to_local_midnight(session, clinic):
    practice = clinic[0]
    day = dt.date(2025, 6, 10)
    first = visit(session, clinic, at(day, 0, 0))
    last = visit(session, clinic, at(day, 23, 59))
    visit(session, clinic, at(day - dt.timedelta(days=1), 23, 59))
    visit(session, clinic, at(day + dt.timedelta(days=1), 0, 0))
    assert ids(session, practice, start=day, end=day) == [first.id, last.id]


def test_day_follows_the_practice_timezone_not_utc(session):
    practice = make_practice(session, timezone="America/Los_Angeles")
    # 20:00 in Los Angeles on June 1 is already June 2 in UTC.
    evening = make_appointment(session, practice,
                               start_at=dt.datetime(2025, 6, 2, 3, 0, tzinfo=dt.UTC))
    assert ids(session, practice, start=dt.date(2025, 6, 1), end=dt.date(2025, 6, 1)) == [
        evening.id]
    assert ids(session, practice, start=dt.date(2025, 6, 2), end=dt.date(2025, 6, 2)) == []


def test_end_date_is_inclusive(session, clinic):
    practice = clinic[0]
    start = dt.date(2025, 6, 9)
    monday = visit(session, clinic, at(start, 9))
    wednesday_late = visit(session, clinic, at(start + dt.timedelta(days=2), 23, 45))
    visit(session, clinic, at(start + dt.timedelta(days=3), 0, 0))
    assert ids(session, practice, start=start, end=start + dt.timedelta(days=2)) == [
        monday.id, wednesday_late.id]


def test_spring_forward_day_has_23_hours(session, clinic):
    practice = clinic[0]
    day = dt.date(2025, 3, 9)  # New York skips 02:00-03:00
    lower, upper = day_bounds(day, day, NEW_YORK)
    assert upper - lower == dt.timedelta(hours=23)
    early = visit(session, clinic, at(day, 0, 30))  # still EST
    late = visit(session, clinic, at(day, 23, 30))  # already EDT
    visit(session, clinic, at(day + dt.timedelta(days=1), 0, 0))
    visit(session, clinic, at(day - dt.timedelta(days=1), 23, 30))
    assert ids(session, practice, start=day, end=day) == [early.id, late.id]


def test_fall_back_day_has_25_hours_and_keeps_both_half_past_ones(session, clinic):
    practice = clinic[0]
    day = dt.date(2025, 11, 2)  # 01:00-02:00 happens twice
    lower, upper = day_bounds(day, day, NEW_YORK)
    assert upper - lower == dt.timedelta(hours=25)
    first = visit(session, clinic, at(day, 1, 30, fold=0))
    second = visit(session, clinic, at(day, 1, 30, fold=1))
    late = visit(session, clinic, at(day, 23, 59))
    visit(session, clinic, at(day + dt.timedelta(days=1), 0, 0))
    assert second.start_at - first.start_at == dt.timedelta(hours=1)
    assert ids(session, practice, start=day, end=day) == [first.id, second.id, late.id]


def test_rows_show_the_time_in_the_practice_timezone(session, clinic):
    practice = clinic[0]
    visit(session, clinic, at(dt.date(2025, 6, 10), 9, 15))
    row = list_schedule(session, practice_id=practice.id, now=NOW, criteria=ScheduleCriteria(
        start=dt.date(2025, 6, 10), end=dt.date(2025, 6, 10))).rows[0]
    assert (row.starts_at.hour, row.starts_at.minute) == (9, 15)
    assert row.starts_at.utcoffset() == dt.timedelta(hours=-4)


def test_end_date_before_start_date_is_refused(session, clinic):
    practice = clinic[0]
    criteria = ScheduleCriteria(start=dt.date(2025, 6, 10), end=dt.date(2025, 6, 9))
    with pytest.raises(InvalidInput, match="End Date is before Start Date"):
        list_schedule(session, practice_id=practice.id, criteria=criteria)
    with pytest.raises(InvalidInput, match="End Date is before Start Date"):
        summarize_schedule(session, practice_id=practice.id, criteria=criteria)


# --- location, providers, cancelled, search --------------------------------------------------

DAY = dt.date(2025, 6, 10)


def test_location_filter(session, clinic):
    practice, (main, north), _, _ = clinic
    at_main = visit(session, clinic, at(DAY, 9), location=main)
    at_north = visit(session, clinic, at(DAY, 10), location=north)
    assert ids(session, practice, start=DAY, end=DAY, location_id=north.id) == [at_north.id]
    assert ids(session, practice, start=DAY, end=DAY, location_id=main.id) == [at_main.id]
    assert ids(session, practice, start=DAY, end=DAY) == [at_main.id, at_north.id]


def test_provider_subset(session, clinic):
    practice, _, (first, second, third), _ = clinic
    by_first = visit(session, clinic, at(DAY, 9), provider=first)
    by_second = visit(session, clinic, at(DAY, 10), provider=second)
    by_third = visit(session, clinic, at(DAY, 11), provider=third)
    assert ids(session, practice, start=DAY, end=DAY, provider_ids=(first.id, third.id)) == [
        by_first.id, by_third.id]
    assert ids(session, practice, start=DAY, end=DAY, provider_ids=(second.id,)) == [by_second.id]
    assert ids(session, practice, start=DAY, end=DAY, provider_ids=None) == [
        by_first.id, by_second.id, by_third.id]
    assert ids(session, practice, start=DAY, end=DAY, provider_ids=()) == []


def test_cancelled_hidden_unless_asked_for(session, clinic):
    practice = clinic[0]
    kept = visit(session, clinic, at(DAY, 9))
    cancelled = visit(session, clinic, at(DAY, 10), status=AppointmentStatus.cancelled)
    no_show = visit(session, clinic, at(DAY, 11), status=AppointmentStatus.no_show)
    assert ids(session, practice, start=DAY, end=DAY) == [kept.id, no_show.id]
    assert ids(session, practice, start=DAY, end=DAY, include_cancelled=True) == [
        kept.id, cancelled.id, no_show.id]
    summary = summarize_schedule(session, practice_id=practice.id, now=NOW,
                                 criteria=ScheduleCriteria(start=DAY, end=DAY))
    assert summary.appointments == 2


@pytest.fixture
def named_patients(session, clinic):
    practice = clinic[0]
    rivera = make_patient(session, practice, first_name="Sam", last_name="Rivera",
                          mrn="MRN0001234")
    riverton = make_patient(session, practice, first_name="Ada", last_name="Riverton",
                            mrn="A-77")
    other = make_patient(session, practice, first_name="Noah", last_name="Samuels",
                         mrn="X100%")
    visits = {name: visit(session, clinic, at(DAY, hour), patient=patient)
              for hour, (name, patient) in enumerate(
                  [("rivera", rivera), ("riverton", riverton), ("samuels", other)], start=9)}
    return practice, visits


@pytest.mark.parametrize(("search", "expected"), [
    ("rivera", ["rivera"]),
    ("RIVER", ["rivera", "riverton"]),
    ("Rivera, Sam", ["rivera"]),
    ("sam rivera", ["rivera"]),
    ("sam", ["rivera", "samuels"]),
    ("mrn0001234", ["rivera"]),
    ("a-77", ["riverton"]),
    ("  ", ["rivera", "riverton", "samuels"]),
    ("%", ["samuels"]),  # a literal percent sign (in an MRN), not a wildcard
    ("_", []),
    ("nobody", []),
])
def test_search_on_patient_name_or_mrn(session, named_patients, search, expected):
    practice, visits = named_patients
    assert ids(session, practice, start=DAY, end=DAY, search=search) == [
        visits[name].id for name in expected]


def test_search_terms_split_on_commas_and_spaces():
    assert search_terms(" Rivera,  Sam ") == ["rivera", "sam"]
    assert search_terms("") == []


def test_filters_combine(session, clinic):
    practice, (main, north), (first, second, _), _ = clinic
    sam = make_patient(session, practice, first_name="Sam", last_name="Rivera")
    other = make_patient(session, practice, first_name="Lee", last_name="Chen")
    wanted = visit(session, clinic, at(DAY, 9), patient=sam, location=north, provider=second)
    visit(session, clinic, at(DAY, 10), patient=sam, location=main, provider=second)
    visit(session, clinic, at(DAY, 11), patient=sam, location=north, provider=first)
    visit(session, clinic, at(DAY, 12), patient=other, location=north, provider=second)
    visit(session, clinic, at(DAY + dt.timedelta(days=1), 9), patient=sam, location=north,
          provider=second)
    visit(session, clinic, at(DAY, 13), patient=sam, location=north, provider=second,
          status=AppointmentStatus.cancelled)
    criteria = dict(start=DAY, end=DAY, location_id=north.id, provider_ids=(second.id,),
                    search="rivera")
    assert ids(session, practice, **criteria) == [wanted.id]
    summary = summarize_schedule(session, practice_id=practice.id, now=NOW,
                                 criteria=ScheduleCriteria(**criteria, include_cancelled=True))
    assert (summary.appointments, summary.patients) == (2, 1)


def test_another_practices_appointments_never_appear(session, clinic):
    practice, (main, _), providers, _ = clinic
    mine = visit(session, clinic, at(DAY, 9))
    other = make_practice(session, timezone=NEW_YORK)
    other_location = make_location(session, other)
    other_provider = make_provider(session, other)
    other_patient = make_patient(session, other, last_name="Rivera", mrn="MRN-OTHER")
    make_appointment(session, other, patient=other_patient, location=other_location,
                     provider=other_provider, start_at=at(DAY, 9))
    assert ids(session, practice, start=DAY, end=DAY) == [mine.id]
    assert ids(session, practice, start=DAY, end=DAY, search="rivera") == []
    # Even the other practice's own location and provider ids find nothing here.
    assert ids(session, practice, start=DAY, end=DAY, location_id=other_location.id) == []
    assert ids(session, practice, start=DAY, end=DAY, provider_ids=(other_provider.id,)) == []
    summary = summarize_schedule(session, practice_id=practice.id, now=NOW,
                                 criteria=ScheduleCriteria(start=DAY, end=DAY))
    assert (summary.appointments, summary.patients) == (1, 1)


# --- rows, counts, paging ---------------------------------------------------------------

def test_row_shows_patient_age_guardian_provider_and_location(session, clinic):
    practice, (main, _), providers, _ = clinic
    patient = make_patient(session, practice, first_name="Sam", last_name="Rivera",
                           mrn="MRN42", date_of_birth=dt.date(2024, 1, 20))
    first = make_guardian(session, practice, patients=[patient], first_name="Maria",
                          last_name="Rivera", relationship="Mother", email="maria@example.org",
                          cell_phone="+16175550100")
    make_guardian(session, practice, patients=[patient], first_name="Jo", last_name="Rivera",
                  email="jo@example.org")
    appointment = visit(session, clinic, at(DAY, 9), patient=patient, visit_type="Vaccine")
    (row,) = list_schedule(session, practice_id=practice.id, now=NOW,
                           criteria=ScheduleCriteria(start=DAY, end=DAY)).rows
    assert row.appointment_id == appointment.id
    assert (row.patient_name, row.mrn, row.date_of_birth, row.age) == (
        "Rivera, Sam", "MRN42", dt.date(2024, 1, 20), "16 mo")
    assert (row.guardian_name, row.guardian_relationship) == ("Maria Rivera", "Mother")
    assert (row.guardian_email, row.guardian_cell_phone) == (first.email, first.cell_phone)
    assert (row.provider, row.location, row.visit_type) == (
        providers[0].name, main.name, "Vaccine")
    assert row.appointment_status == AppointmentStatus.scheduled


def test_patient_without_guardian_has_no_contact(session, clinic):
    practice = clinic[0]
    visit(session, clinic, at(DAY, 9))
    (row,) = list_schedule(session, practice_id=practice.id, now=NOW,
                           criteria=ScheduleCriteria(start=DAY, end=DAY)).rows
    assert (row.guardian_name, row.guardian_email, row.guardian_cell_phone) == (None, None, None)


@pytest.mark.parametrize(("born", "today", "expected"), [
    (dt.date(2025, 6, 10), dt.date(2025, 6, 10), "0 mo"),
    (dt.date(2025, 5, 11), dt.date(2025, 6, 10), "0 mo"),
    (dt.date(2025, 5, 10), dt.date(2025, 6, 10), "1 mo"),
    (dt.date(2023, 6, 11), dt.date(2025, 6, 10), "23 mo"),
    (dt.date(2023, 6, 10), dt.date(2025, 6, 10), "2 y"),
    (dt.date(2008, 6, 11), dt.date(2025, 6, 10), "16 y"),
    (dt.date(2008, 6, 10), dt.date(2025, 6, 10), "17 y"),
])
def test_describe_age(born, today, expected):
    assert describe_age(born, today=today) == expected


def test_summary_counts_unique_patients_by_status(session, clinic):
    practice = clinic[0]
    active, invited, fresh = (make_patient(session, practice) for _ in range(3))
    enroll(session, active, EnrollmentStatus.active)
    enroll(session, invited, EnrollmentStatus.invited, expires_at=NOW + dt.timedelta(days=3))
    for hour, patient in [(9, active), (10, active), (11, invited), (12, fresh), (13, fresh)]:
        visit(session, clinic, at(DAY, hour), patient=patient)
    summary = summarize_schedule(session, practice_id=practice.id, now=NOW,
                                 criteria=ScheduleCriteria(start=DAY, end=DAY))
    assert (summary.appointments, summary.patients) == (5, 3)
    assert summary.patients_with(PortalStatus.active) == 1
    assert summary.patients_with(PortalStatus.invited) == 1
    assert summary.patients_with(PortalStatus.not_registered) == 1
    assert summary.patients_with(PortalStatus.locked) == 0
    assert summary.share_active == pytest.approx(1 / 3)


def test_empty_summary(session, clinic):
    summary = summarize_schedule(session, practice_id=clinic[0].id, now=NOW,
                                 criteria=ScheduleCriteria(start=DAY, end=DAY))
    assert (summary.appointments, summary.patients, summary.share_active) == (0, 0, None)
    assert summary.pages() == 1


def test_pages_follow_start_time_without_gaps_or_overlaps(session, clinic):
    practice = clinic[0]
    # Two visits per slot: ties on start time must still page deterministically.
    made = [visit(session, clinic, at(DAY, 8) + dt.timedelta(minutes=5 * (n // 2))).id
            for n in range(25)]
    pages = [ids(session, practice, start=DAY, end=DAY, page=page, page_size=10)
             for page in (1, 2, 3, 4)]
    assert [len(page) for page in pages] == [10, 10, 5, 0]
    assert [i for page in pages for i in page] == made
    summary = summarize_schedule(session, practice_id=practice.id, now=NOW,
                                 criteria=ScheduleCriteria(start=DAY, end=DAY))
    assert summary.pages(10) == 3


def test_bad_page_is_refused(session, clinic):
    criteria = ScheduleCriteria(start=DAY, end=DAY)
    with pytest.raises(InvalidInput):
        list_schedule(session, practice_id=clinic[0].id, criteria=criteria, page=0)
    with pytest.raises(InvalidInput):
        list_schedule(session, practice_id=clinic[0].id, criteria=criteria, page_size=10_000)


# --- the portal status badge ----------------------------------------------------------------

BADGE_CASES = [
    ("no enrollment", None, None, PortalStatus.not_registered),
    ("invited", EnrollmentStatus.invited, dt.timedelta(days=2), PortalStatus.invited),
    ("invited, a second to go", EnrollmentStatus.invited, dt.timedelta(seconds=1),
     PortalStatus.invited),
    ("invited, expires exactly now", EnrollmentStatus.invited, dt.timedelta(0),
     PortalStatus.pin_expired),
    ("invited, expired", EnrollmentStatus.invited, -dt.timedelta(days=1),
     PortalStatus.pin_expired),
    ("invited, no expiry", EnrollmentStatus.invited, None, PortalStatus.invited),
    ("locked", EnrollmentStatus.locked, dt.timedelta(days=2), PortalStatus.locked),
    ("active", EnrollmentStatus.active, None, PortalStatus.active),
    ("declined", EnrollmentStatus.declined, None, PortalStatus.declined),
    ("voided only", EnrollmentStatus.voided, dt.timedelta(days=2), PortalStatus.not_registered),
]


@pytest.mark.parametrize(("case", "status", "expires_in", "badge"), BADGE_CASES,
                         ids=[case[0] for case in BADGE_CASES])
def test_badge_per_enrollment_state(session, clinic, case, status, expires_in, badge):
    practice = clinic[0]
    patient = make_patient(session, practice)
    expires_at = None if expires_in is None else NOW + expires_in
    if status is not None:
        enroll(session, patient, status, expires_at=expires_at)
    visit(session, clinic, at(DAY, 9), patient=patient)
    criteria = ScheduleCriteria(start=DAY, end=DAY)
    (row,) = list_schedule(session, practice_id=practice.id, criteria=criteria, now=NOW).rows
    assert row.portal_status == badge
    # The SQL and the Python derivation agree, and the summary counts the same badge.
    assert derive_status(status, expires_at, now=NOW) == badge
    summary = summarize_schedule(session, practice_id=practice.id, criteria=criteria, now=NOW)
    assert summary.patients_with(badge) == 1


def test_badge_follows_the_live_enrollment_after_a_void(session, clinic):
    practice = clinic[0]
    patient = make_patient(session, practice)
    enroll(session, patient, EnrollmentStatus.voided, expires_at=NOW - dt.timedelta(days=9))
    enroll(session, patient, EnrollmentStatus.active)
    visit(session, clinic, at(DAY, 9), patient=patient)
    (row,) = list_schedule(session, practice_id=practice.id, now=NOW,
                           criteria=ScheduleCriteria(start=DAY, end=DAY)).rows
    assert row.portal_status == PortalStatus.active


def test_invited_turns_expired_as_time_passes(session, clinic):
    practice = clinic[0]
    patient = make_patient(session, practice)
    expires_at = NOW + dt.timedelta(hours=1)
    enroll(session, patient, EnrollmentStatus.invited, expires_at=expires_at)
    visit(session, clinic, at(DAY, 9), patient=patient)
    criteria = ScheduleCriteria(start=DAY, end=DAY)

    def badge(now):
        return list_schedule(session, practice_id=practice.id, criteria=criteria,
                             now=now).rows[0].portal_status

    assert badge(expires_at - dt.timedelta(seconds=1)) == PortalStatus.invited
    assert badge(expires_at) == PortalStatus.pin_expired
