"""The Enrollment service on a hand-built practice whose figures were worked out by hand.

Practice "Sunny" is in America/New_York; the period is Friday 2024-11-01 to Friday 2024-11-15.
Daylight saving time ends on Sunday 2024-11-03 (EDT, UTC-4, before; EST, UTC-5, after).
Sunny closes on Monday 2024-11-11 (a Holiday row). Another practice, "Other", closes on
Tuesday 2024-11-05; that must not move Sunny's deadlines.
"Now" is Tuesday 2024-11-19 12:00 EST.

A visit's deadline is the 4th business day counting the visit's day (weekends and Sunny's
holiday skipped); access counts when given before the local midnight that ends that day.

 patient visits in the period (completed      deadline   access given        timely
         unless noted; provider, location)
 P1      Fri 11-01 10:00 (A, L1)             Wed 11-06  Wed 11-06 23:30 PIN  yes (Fri Mon Tue Wed)
 P2      Fri 11-01 09:00 (A, L1)             Wed 11-06  Thu 11-07 00:30 PIN  no  (Thu = 5th day)
 P3      Thu 11-07 14:00 (B, L2)             Wed 11-13  Wed 11-13 10:00 PIN  yes (Thu Fri [Mon 11-11
                                                                                  holiday] Tue Wed)
 P4      Mon 11-04 (A, L1), Tue 11-12 (B, L2) Thu 11-07  Wed 11-13 PIN        no  (late for the
                                                                                  first visit)
 P5      Tue 11-05 (B, L1), Fri 11-15 (A, L2) Fri 11-08  Tue 11-05 PIN        yes (same day)
 P6      Mon 11-04 cancelled, Tue 11-12 no-show, Fri 11-15 scheduled: not seen, not counted
 P7      Mon 11-04 (A, L2)                   Thu 11-07  Tue 11-05 PIN, voided yes (a voided PIN
                                                        later; new PIN 11-12      counts)
 P8      Wed 11-13 (B, L1)                   Mon 11-18  never                no  (missed)
 P9      Fri 11-15 23:30 (B, L2)             Wed 11-20  never                no  (still in time)
 P10     Fri 11-08 (B, L1)                   Thu 11-14  activated 10-01      yes (before the visit)
 P11     Fri 11-08 09:00 (B, L1)             Thu 11-14  P10's account granted yes (a sibling's
                                                        to P11 11-08 10:00         account)
 P12     Thu 10-31 and Sat 11-16 (outside the period): not seen
 Q1      Other practice, Mon 11-04, PIN the same day: not Sunny's

 Denominator: P1 P2 P3 P4 P5 P7 P8 P9 P10 P11 = 10
 Numerator:   P1 P3 P5 P7 P10 P11 = 6; rate 0.6; missing P2 P4 P8 P9 = 4, of whom P9 in time = 1.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlmodel import select

from models import (
    AppointmentStatus,
    Enrollment,
    EnrollmentStatus,
    Holiday,
    Patient,
    PortalAccess,
    PortalAccount,
)
from services import enrollment
from services.enrollment import EnrollmentScope
from services.errors import InvalidInput
from tests.factories import (
    make_appointment,
    make_enrollment,
    make_location,
    make_patient,
    make_practice,
    make_provider,
)

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
START, END = dt.date(2024, 11, 1), dt.date(2024, 11, 15)


def local(day: str, time: str = "10:00") -> dt.datetime:
    """A New York wall-clock time as an aware UTC datetime."""
    naive = dt.datetime.fromisoformat(f"2024-{day}T{time}")
    return naive.replace(tzinfo=NEW_YORK).astimezone(dt.UTC)


NOW = local("11-19", "12:00")


@pytest.fixture
def sunny(session):
    """Build the table in the module docstring; return the ids the tests need."""
    practice = make_practice(session, name="Sunny", timezone="America/New_York")
    other = make_practice(session, name="Other", timezone="America/New_York")
    session.add(Holiday(practice_id=practice.id, day=dt.date(2024, 11, 11), name="Veterans Day"))
    session.add(Holiday(practice_id=other.id, day=dt.date(2024, 11, 5), name="Closed"))
    dr_a = make_provider(session, practice, name="Dr. Avery")
    dr_b = make_provider(session, practice, name="Dr. Brooks")
    l1 = make_location(session, practice, name="Main Street")
    l2 = make_location(session, practice, name="Northside")
    patients = {
        name: make_patient(session, practice, mrn=f"MRN-{name}", last_name=f"Last{name}",
                           first_name="Kid")
        for name in ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P11", "P12"]
    }

    def visit(name, when, provider, location, status=AppointmentStatus.completed):
        make_appointment(session, practice, patient=patients[name], provider=provider,
                         location=location, start_at=when, status=status.value)

    def pin(name, issued, **fields):
        return make_enrollment(session, practice, patient=patients[name], issued_at=issued,
                               secret_hash="not-a-real-hash", **fields)

    visit("P1", local("11-01", "10:00"), dr_a, l1)
    pin("P1", local("11-06", "23:30"), expires_at=local("11-20"))
    visit("P2", local("11-01", "09:00"), dr_a, l1)
    pin("P2", local("11-07", "00:30"), expires_at=local("11-10"))  # now "PIN expired"
    visit("P3", local("11-07", "14:00"), dr_b, l2)
    pin("P3", local("11-13", "10:00"), status=EnrollmentStatus.active.value,
        activated_at=local("11-15", "22:00"))  # 2.5 days to activation
    visit("P4", local("11-04"), dr_a, l1)
    visit("P4", local("11-12"), dr_b, l2)
    pin("P4", local("11-13"), expires_at=local("12-01"))
    visit("P5", local("11-05"), dr_b, l1)
    visit("P5", local("11-15"), dr_a, l2)
    pin("P5", local("11-05"), status=EnrollmentStatus.active.value,
        activated_at=local("11-06"))  # 1.0 day
    visit("P6", local("11-04"), dr_a, l1, AppointmentStatus.cancelled)
    visit("P6", local("11-12"), dr_a, l1, AppointmentStatus.no_show)
    visit("P6", local("11-15"), dr_a, l1, AppointmentStatus.scheduled)
    visit("P7", local("11-04"), dr_a, l2)
    pin("P7", local("11-05"), status=EnrollmentStatus.voided.value,
        voided_at=local("11-12"), expires_at=local("11-20"))
    pin("P7", local("11-12"), expires_at=local("11-25"))
    visit("P8", local("11-13"), dr_b, l1)
    visit("P9", local("11-15", "23:30"), dr_b, l2)
    visit("P10", local("11-08"), dr_b, l1)
    p10_pin = pin("P10", local("09-28"), status=EnrollmentStatus.active.value,
                  activated_at=local("10-01"))  # 3.0 days
    visit("P11", local("11-08", "09:00"), dr_b, l1)
    account = PortalAccount(practice_id=practice.id, email="p10.parent@example.com",
                            password_hash="x", created_at=local("10-01"))
    session.add(account)
    session.flush()
    session.add(PortalAccess(account_id=account.id, patient_id=patients["P10"].id,
                             enrollment_id=p10_pin.id, granted_at=local("10-01")))
    session.add(PortalAccess(account_id=account.id, patient_id=patients["P11"].id,
                             enrollment_id=p10_pin.id, granted_at=local("11-08", "10:00")))
    visit("P12", local("10-31"), dr_a, l1)
    visit("P12", local("11-16"), dr_a, l1)

    q1 = make_patient(session, other, mrn="MRN-Q1")
    make_appointment(session, other, patient=q1, start_at=local("11-04"),
                     status=AppointmentStatus.completed.value)
    make_enrollment(session, other, patient=q1, issued_at=local("11-04", "11:00"),
                    secret_hash="not-a-real-hash")
    session.commit()
    return {"practice": practice.id, "other": other.id, "A": dr_a.id, "B": dr_b.id,
            "L1": l1.id, "L2": l2.id}


def scope(ids, *, practice="practice", **filters) -> EnrollmentScope:
    return EnrollmentScope(practice_id=ids[practice], start=START, end=END, **filters)


def report(session, ids, **filters):
    return enrollment.build_enrollment_report(session, scope=scope(ids, **filters), now=NOW)


def test_access_deadline_counts_the_visit_day_and_skips_weekends_and_holidays():
    none: set[dt.date] = set()
    friday = dt.date(2024, 11, 1)
    assert enrollment.access_deadline(friday, holidays=none) == dt.date(2024, 11, 6)  # Wednesday
    assert enrollment.access_deadline(dt.date(2024, 11, 2), holidays=none) == dt.date(2024, 11, 7)
    assert enrollment.access_deadline(dt.date(2024, 11, 4), holidays=none) == dt.date(2024, 11, 7)
    thursday = dt.date(2024, 11, 7)
    assert enrollment.access_deadline(thursday, holidays=none) == dt.date(2024, 11, 12)
    assert enrollment.access_deadline(thursday, holidays={dt.date(2024, 11, 11)}) == dt.date(
        2024, 11, 13)


def test_measure_matches_the_hand_count(session, sunny):
    measure = report(session, sunny).measure
    assert (measure.numerator, measure.denominator) == (6, 10)
    assert measure.rate == pytest.approx(0.6)
    assert (measure.missing, measure.still_in_time) == (4, 1)


def test_headline_figures(session, sunny):
    headline = report(session, sunny).headline
    # Invited: P1 P2 P3 P4 P5 P7 P10 (P11 only through a sibling's account) = 7.
    # Activated: P3 P5 P10 (enrollments) and P11 (granted) = 4; rate 4 / 7.
    assert (headline.patients_seen, headline.invited, headline.activated) == (10, 7, 4)
    assert headline.activation_rate == pytest.approx(4 / 7)
    # Activated enrollments: P5 1.0, P3 2.5, P10 3.0 days -> median 2.5.
    assert headline.median_days_to_activation == 2.5
    # Live PINs expiring by 11-26 12:00: P1 (11-20) and P7's new one (11-25); P2's expired,
    # P7's voided one and P4's (12-01) do not count.
    assert headline.pins_expiring_soon == 2


def test_funnel_and_days_to_activation(session, sunny):
    result = report(session, sunny)
    assert result.funnel.to_dict("list") == {"stage": ["Seen", "Invited", "Activated"],
                                             "patients": [10, 7, 4]}
    # Whole days: P5 1, P3 2, P10 3 (none on day 0).
    assert result.days_to_activation.to_dict("list") == {"days": [0, 1, 2, 3],
                                                         "enrollments": [0, 1, 1, 1]}


def test_weekly_trend_by_local_week_of_issue(session, sunny):
    weekly = report(session, sunny).weekly
    # Week of 10-28: nothing issued in the period. Week of 11-04: P1 (Wed 23:30 local, Thu in
    # UTC), P2, P5 (activated), P7's voided PIN = 4, 1 activated. Week of 11-11: P3
    # (activated), P4, P7's new PIN = 3, 1 activated. P10's PIN is from September.
    assert weekly["week_start"].tolist() == [dt.date(2024, 10, 28), dt.date(2024, 11, 4),
                                             dt.date(2024, 11, 11)]
    assert weekly["invitations"].tolist() == [0, 4, 3]
    assert weekly["activated"].tolist() == [0, 1, 1]
    assert weekly["rate"].tolist()[0] is None or weekly["rate"].isna().tolist()[0]
    assert weekly["rate"].tolist()[1:] == pytest.approx([0.25, 1 / 3])


def test_rate_by_provider_is_each_providers_own_measure_laggards_first(session, sunny):
    by_provider = report(session, sunny).by_provider
    # Dr. Avery: P1 yes, P2 no, P4 (first with A 11-04) no, P5 (first with A 11-15) yes, P7 yes
    #   = 3 / 5; invited P1 P2 P4 P5 P7 = 5, activated P5 = 1.
    # Dr. Brooks: P3 yes, P4 (first with B 11-12, due Fri 11-15, PIN 11-13) yes, P5 yes,
    #   P8 no, P9 no, P10 yes, P11 yes = 5 / 7; invited P3 P4 P5 P10 = 4; activated
    #   P3 P5 P10 P11 = 4.
    assert by_provider.to_dict("records") == [
        {"name": "Dr. Avery", "seen": 5, "timely": 3, "timely_rate": pytest.approx(0.6),
         "invited": 5, "activated": 1, "activated_rate": pytest.approx(0.2)},
        {"name": "Dr. Brooks", "seen": 7, "timely": 5, "timely_rate": pytest.approx(5 / 7),
         "invited": 4, "activated": 4, "activated_rate": pytest.approx(4 / 7)},
    ]


def test_rate_by_location(session, sunny):
    by_location = report(session, sunny).by_location
    # Main Street: P1 yes, P2 no, P4 (11-04) no, P5 (11-05) yes, P8 no, P10 yes, P11 yes = 4 / 7.
    # Northside: P3 yes, P4 (11-12) yes, P5 (11-15) yes, P7 yes, P9 no = 4 / 5.
    assert by_location["name"].tolist() == ["Main Street", "Northside"]
    assert by_location["seen"].tolist() == [7, 5]
    assert by_location["timely"].tolist() == [4, 4]
    assert by_location["invited"].tolist() == [5, 4]  # P1 P2 P4 P5 P10 / P3 P4 P5 P7
    assert by_location["activated"].tolist() == [3, 2]  # P5 P10 P11 / P3 P5


def test_location_filter_uses_only_visits_there(session, sunny):
    # Northside: P3 yes, P4 (first there 11-12) yes, P5 yes, P7 yes, P9 no.
    measure = report(session, sunny, location_id=sunny["L2"]).measure
    assert (measure.numerator, measure.denominator) == (4, 5)


def test_provider_filter_uses_only_that_providers_visits(session, sunny):
    measure = report(session, sunny, provider_ids=(sunny["A"],)).measure
    assert (measure.numerator, measure.denominator) == (3, 5)


def test_missing_patients_in_order_of_first_visit(session, sunny):
    missing = enrollment.list_patients_missing_access(session, scope=scope(sunny), now=NOW)
    assert missing["MRN"].tolist() == ["MRN-P2", "MRN-P4", "MRN-P8", "MRN-P9"]
    p2, p4, p8, p9 = missing.to_dict("records")
    assert (p2["Access due by"], p2["Access given"], p2["Portal status"]) == (
        dt.date(2024, 11, 6), dt.date(2024, 11, 7), "PIN expired")
    assert (p4["First visit"], p4["Provider"], p4["Location"], p4["Portal status"]) == (
        dt.date(2024, 11, 4), "Dr. Avery", "Main Street", "Invited")
    assert (p8["Access due by"], p8["Access given"], p8["Still in time"]) == (
        dt.date(2024, 11, 18), None, False)
    assert (p9["First visit"], p9["Access due by"], p9["Portal status"], p9["Still in time"]) == (
        dt.date(2024, 11, 15), dt.date(2024, 11, 20), "Not registered", True)


def test_missing_preview_is_limited(session, sunny):
    result = enrollment.build_enrollment_report(session, scope=scope(sunny), now=NOW,
                                                missing_limit=2)
    assert result.missing_preview["MRN"].tolist() == ["MRN-P2", "MRN-P4"]


def test_csv_export_has_a_header_and_every_missing_patient(session, sunny):
    text = enrollment.export_patients_missing_access_csv(session, scope=scope(sunny), now=NOW)
    lines = text.strip().splitlines()
    assert lines[0] == ",".join(enrollment.MISSING_COLUMNS)
    assert len(lines) == 5
    assert lines[4].startswith("MRN-P9,") and lines[4].endswith(",yes")


def test_other_practice_sees_only_its_own_patient(session, sunny):
    measure = report(session, sunny, practice="other").measure
    assert (measure.numerator, measure.denominator) == (1, 1)


def test_empty_period_has_no_rates(session, sunny):
    empty = EnrollmentScope(practice_id=sunny["practice"], start=dt.date(2023, 1, 2),
                            end=dt.date(2023, 1, 8))
    result = enrollment.build_enrollment_report(session, scope=empty, now=NOW)
    assert result.measure.denominator == 0 and result.measure.rate is None
    assert result.headline.activation_rate is None
    assert result.headline.median_days_to_activation is None
    assert result.by_provider.empty and result.missing_preview.empty
    assert result.days_to_activation.empty
    assert result.weekly["invitations"].tolist() == [0]


def test_start_after_end_is_refused_with_the_field_named(session, sunny):
    with pytest.raises(InvalidInput) as error:
        backwards = EnrollmentScope(practice_id=sunny["practice"], start=END, end=START)
        enrollment.build_enrollment_report(session, scope=backwards)
    assert error.value.field == "start_date"
    assert "Start Date" in error.value.message


def test_report_leaves_no_temporary_tables_behind(session, sunny):
    report(session, sunny)
    report(session, sunny)  # a second report in the same transaction starts clean
    assert report(session, sunny).measure.denominator == 10


def test_reminders_are_counted_with_the_activations_after_them(session, sunny):
    def enrollment_of(mrn):
        return session.exec(select(Enrollment).join(Patient).where(
            Patient.mrn == mrn, Enrollment.status != EnrollmentStatus.voided.value)).one()

    assert report(session, sunny).headline.reminded == 0
    for mrn, count in (("MRN-P1", 2), ("MRN-P3", 1)):  # P1 still invited, P3 activated
        row = enrollment_of(mrn)
        row.reminders_sent = count
        session.add(row)
    session.commit()
    headline = report(session, sunny).headline
    assert (headline.reminded, headline.activated_after_reminder) == (2, 1)
