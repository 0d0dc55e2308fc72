"""The visit facts and the patient's first access (migration 0008_visit_facts) stay equal to
what they are derived from, whoever writes, and the whole-practice Enrollment report read from
them equals the cohort-table computation (services.enrollment_cohort, the path filtered
scopes still take) on a random history: visits moved, cancelled, completed later, several at
the same time, other providers and locations, deleted; PINs issued, activated, voided;
sibling grants; holidays; a timezone change. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

import pandas as pd
import pytest
from sqlalchemy import delete, select, text, update

from models import (
    Appointment,
    AppointmentStatus,
    Enrollment,
    EnrollmentStatus,
    Holiday,
    Patient,
    PortalAccess,
    PortalAccount,
    Practice,
    VisitFact,
)
from services import enrollment, enrollment_facts, schedule_import
from services.demo import seed_demo
from services.enrollment import EnrollmentScope
from tests.factories import (
    make_appointment,
    make_enrollment,
    make_location,
    make_patient,
    make_practice,
    make_provider,
)

BASE = dt.datetime(2025, 3, 3, 13, 0, tzinfo=dt.UTC)  # a Monday
STATUSES = [s.value for s in AppointmentStatus]


def expected_facts(session) -> set[tuple]:
    """Every completed visit with its previous completed visits' starts, computed in Python,
    and its patient's access columns."""
    visits = session.execute(
        select(Appointment.id, Appointment.practice_id, Appointment.patient_id,
               Appointment.provider_id, Appointment.location_id, Appointment.start_at,
               Patient.first_invited_at, Patient.first_activated_at,
               Patient.live_enrollment_status, Patient.live_enrollment_expires_at)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(Appointment.status == AppointmentStatus.completed.value)
    ).all()
    visits.sort(key=lambda v: (v.patient_id, v.start_at, v.provider_id, v.location_id, v.id))
    last: dict[tuple, dt.datetime] = {}
    facts = set()
    for v in visits:
        keys = [(v.patient_id,), (v.patient_id, "p", v.provider_id),
                (v.patient_id, "l", v.location_id)]
        facts.add((v.id, v.practice_id, v.patient_id, v.provider_id, v.location_id, v.start_at,
                   *(last.get(key) for key in keys), *v[6:]))
        for key in keys:
            last[key] = v.start_at
    return facts


def stored_facts(session) -> set[tuple]:
    fact = VisitFact
    return set(session.execute(select(
        fact.appointment_id, fact.practice_id, fact.patient_id, fact.provider_id,
        fact.location_id, fact.start_at, fact.prev_start_at, fact.prev_provider_start_at,
        fact.prev_location_start_at, fact.first_invited_at, fact.first_activated_at,
        fact.live_enrollment_status, fact.live_enrollment_expires_at)).all())


def access_mismatches(session) -> list[tuple]:
    """Patients whose stored first invitation / activation differ from their rows' minimum."""
    wrong = []
    enrollments = session.execute(select(Enrollment.patient_id, Enrollment.issued_at,
                                         Enrollment.activated_at)).all()
    grants = session.execute(select(PortalAccess.patient_id, PortalAccess.granted_at)).all()
    for patient in session.execute(select(Patient.id, Patient.first_invited_at,
                                          Patient.first_activated_at)).all():
        issued = [e.issued_at for e in enrollments if e.patient_id == patient.id]
        activated = [e.activated_at for e in enrollments
                     if e.patient_id == patient.id and e.activated_at] + [
            g.granted_at for g in grants if g.patient_id == patient.id]
        expected = (min(issued, default=None), min(activated, default=None))
        if (patient.first_invited_at, patient.first_activated_at) != expected:
            wrong.append((patient.id, expected, patient[1:]))
    return wrong


def assert_kept(session) -> None:
    session.flush()
    session.expire_all()
    assert stored_facts(session) == expected_facts(session)
    assert access_mismatches(session) == []


def _frames_equal(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True),
                                  check_dtype=False)


def assert_same_report(session, scope: EnrollmentScope, now: dt.datetime, monkeypatch) -> None:
    fast = enrollment.build_enrollment_report(session, scope=scope, now=now, missing_limit=25)
    fast_missing = enrollment.list_patients_missing_access(session, scope=scope, now=now)
    with monkeypatch.context() as patch:
        patch.setattr(enrollment_facts, "applies", lambda period: False)
        slow = enrollment.build_enrollment_report(session, scope=scope, now=now,
                                                  missing_limit=25)
        slow_missing = enrollment.list_patients_missing_access(session, scope=scope, now=now)
    assert fast.headline == slow.headline
    assert fast.measure == slow.measure
    for name in ("funnel", "weekly", "by_provider", "by_location", "days_to_activation",
                 "missing_preview"):
        _frames_equal(getattr(fast, name), getattr(slow, name))
    _frames_equal(fast_missing, slow_missing)


def _random_history(session, rng: random.Random):
    practice = make_practice(session, timezone="America/Chicago")
    other = make_practice(session, timezone="America/New_York")
    providers = [make_provider(session, practice) for _ in range(3)]
    locations = [make_location(session, practice) for _ in range(2)]
    patients = [make_patient(session, practice) for _ in range(25)]
    for day in (dt.date(2025, 3, 7), dt.date(2025, 3, 17), dt.date(2025, 3, 18)):
        session.add(Holiday(practice_id=practice.id, day=day, name="Closed"))
    stranger = make_patient(session, other)
    make_appointment(session, other, patient=stranger, start_at=BASE,
                     status=AppointmentStatus.completed.value)
    visits: list[Appointment] = []

    def moment() -> dt.datetime:
        # Whole quarter hours over five weeks; a small set, so equal starts happen.
        return BASE + dt.timedelta(days=rng.randrange(35), minutes=15 * rng.randrange(-40, 50))

    for _ in range(140):
        visits.append(make_appointment(
            session, practice, patient=rng.choice(patients), provider=rng.choice(providers),
            location=rng.choice(locations), start_at=moment(),
            status=rng.choice(STATUSES + ["completed"] * 3)))
    assert_kept(session)
    for step in range(120):
        visit = rng.choice(visits)
        change = rng.randrange(6)
        if change == 0:
            visit.start_at = moment()  # moved
        elif change == 1:
            visit.status = rng.choice(STATUSES)  # cancelled, completed later, ...
        elif change == 2:
            visit.provider_id = rng.choice(providers).id
            visit.location_id = rng.choice(locations).id
        elif change == 3:
            visit.patient_id = rng.choice(patients).id
        elif change == 4 and len(visits) > 60:
            visits.remove(visit)
            session.delete(visit)
        else:
            patient = rng.choice(patients)
            issued = moment()
            row = make_enrollment(session, practice, patient=patient, issued_at=issued,
                                  secret_hash="x", expires_at=issued + dt.timedelta(days=9),
                                  status=EnrollmentStatus.voided.value,
                                  voided_at=issued + dt.timedelta(hours=1))
            if rng.random() < 0.5:
                row.activated_at = issued + dt.timedelta(hours=rng.randrange(1, 300))
            if rng.random() < 0.3:
                row.reminders_sent = 1
        if step % 40 == 39:
            assert_kept(session)
    account = PortalAccount(practice_id=practice.id, email="family@example.com",
                            password_hash="x", created_at=BASE)
    session.add(account)
    session.flush()
    sibling_pin = make_enrollment(session, practice, patient=patients[0], issued_at=BASE,
                                  secret_hash="x", status=EnrollmentStatus.active.value,
                                  activated_at=BASE + dt.timedelta(days=1))
    for patient in rng.sample(patients[1:], 4):  # a sibling's account granted to them
        session.add(PortalAccess(account_id=account.id, patient_id=patient.id,
                                 enrollment_id=sibling_pin.id, granted_at=moment()))
    # A live PIN for a few patients, one expiring soon after "now".
    for patient in rng.sample(patients, 3):
        make_enrollment(session, practice, patient=patient, issued_at=moment(),
                        secret_hash="x", expires_at=BASE + dt.timedelta(days=36))
    assert_kept(session)
    return practice


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_facts_and_report_match_the_reference_on_a_random_history(session, monkeypatch, seed):
    rng = random.Random(seed)
    practice = _random_history(session, rng)
    session.commit()
    now = BASE + dt.timedelta(days=33)
    periods = [(dt.date(2025, 3, 3), dt.date(2025, 4, 6)), (dt.date(2025, 3, 10),
               dt.date(2025, 3, 21)), (dt.date(2025, 3, 19), dt.date(2025, 3, 19))]
    for start, end in periods:
        assert_same_report(session, EnrollmentScope(practice.id, start, end), now, monkeypatch)
    # A timezone change applies at once: the facts are UTC, the local days come at query time.
    session.execute(update(Practice).where(Practice.id == practice.id)
                    .values(timezone="Pacific/Honolulu"))
    session.commit()
    for start, end in periods:
        assert_same_report(session, EnrollmentScope(practice.id, start, end), now, monkeypatch)


def test_a_hand_written_update_and_delete_keep_the_facts(session):
    practice = make_practice(session)
    patient = make_patient(session, practice)
    first = make_appointment(session, practice, patient=patient, start_at=BASE,
                             status=AppointmentStatus.scheduled.value)
    make_appointment(session, practice, patient=patient, start_at=BASE + dt.timedelta(days=2),
                     status=AppointmentStatus.completed.value)
    assert_kept(session)
    session.execute(update(Appointment).where(Appointment.id == first.id)
                    .values(status=AppointmentStatus.completed.value))
    assert_kept(session)
    assert session.execute(select(VisitFact.prev_start_at).order_by(VisitFact.start_at)
                           ).scalars().all() == [None, BASE]
    session.execute(delete(Appointment).where(Appointment.id == first.id))
    assert_kept(session)


def test_the_check_notices_a_writer_that_skips_the_facts(session):
    """Without the update trigger a status change leaves the facts stale, and the check says so
    (the equality checks above can fail)."""
    practice = make_practice(session)
    visit = make_appointment(session, practice, start_at=BASE,
                             status=AppointmentStatus.scheduled.value)
    assert_kept(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE appointment DISABLE TRIGGER trg_visit_fact"))
    else:
        session.execute(text("DROP TRIGGER trg_visit_fact_update"))
    session.execute(update(Appointment).where(Appointment.id == visit.id)
                    .values(status=AppointmentStatus.completed.value))
    session.expire_all()
    assert stored_facts(session) != expected_facts(session)
    session.rollback()


def test_the_schedule_import_and_the_demo_seed_keep_the_facts(session):
    practice = make_practice(session, name="Sunny Peds", timezone="America/New_York")
    make_provider(session, practice, name="Dr. Lee")
    make_location(session, practice, name="Main")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["MRN", "Patient First Name", "Patient Last Name", "Date of Birth",
                     "Appointment ID", "Appointment Date", "Appointment Time", "Provider",
                     "Location", "Visit Type", "Status"])
    for number, (mrn, day, status) in enumerate([("M-1", "2030-03-04", "Completed"),
                                                ("M-1", "2030-03-06", "Completed"),
                                                ("M-2", "2030-03-04", "Booked")]):
        writer.writerow([mrn, "Kid", "Doe", "2019-05-02", f"A-{number}", day, "9:30 AM",
                         "Dr. Lee", "Main", "Well Child", status])
    data = buffer.getvalue().encode()
    schedule_import.import_schedule(session, practice_id=practice.id, data=data,
                                    filename="schedule.csv", actor="boss",
                                    today=dt.date(2030, 3, 10))
    assert_kept(session)
    assert len(stored_facts(session)) == 2
    # Re-import with A-0 cancelled and M-2 seen: the upsert's updates are followed too.
    data = data.replace(b"A-0,2030-03-04,9:30 AM,Dr. Lee,Main,Well Child,Completed",
                        b"A-0,2030-03-04,9:30 AM,Dr. Lee,Main,Well Child,Cancelled")
    data = data.replace(b"Well Child,Booked", b"Well Child,Completed")
    schedule_import.import_schedule(session, practice_id=practice.id, data=data,
                                    filename="schedule.csv", actor="boss",
                                    today=dt.date(2030, 3, 10))
    assert_kept(session)
    assert len(stored_facts(session)) == 2
    seed_demo(session, practice_name="Demo", appointments=300, seed=3)
    assert_kept(session)


def test_appended_and_late_visits_and_unchanged_rewrites_keep_the_facts(session):
    """The insert trigger's two paths (a visit after all of the patient's others appends one
    row; an earlier one, or one tied on start, recomputes the patient) and the update trigger's
    guards (a rewrite with the same values; a visit moved to another patient)."""
    practice = make_practice(session)
    first, second = make_provider(session, practice), make_provider(session, practice)
    here, there = make_location(session, practice), make_location(session, practice)
    patient, sibling = make_patient(session, practice), make_patient(session, practice)
    completed = AppointmentStatus.completed.value

    def visit(days: int, provider=first, location=here, who=patient):
        return make_appointment(session, practice, patient=who, provider=provider,
                                location=location, start_at=BASE + dt.timedelta(days=days),
                                status=completed)

    visit(0)
    visit(3, second)  # appended: previous overall, none with this provider
    visit(5, first, there)  # appended: previous with the first provider is day 0
    assert_kept(session)
    late = visit(1, second, there)  # before the day 3 and day 5 visits: both change
    visit(5, first, there)  # tied on start with the day 5 visit: the id breaks the tie
    visit(4)
    assert_kept(session)
    before = stored_facts(session)
    session.execute(update(Appointment).where(Appointment.id == late.id)
                    .values(status=completed, start_at=late.start_at))
    session.expire_all()
    assert stored_facts(session) == before
    session.execute(update(Appointment).where(Appointment.id == late.id)
                    .values(patient_id=sibling.id))
    session.expire_all()
    assert stored_facts(session) != before
    assert_kept(session)
