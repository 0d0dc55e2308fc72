"""patient.live_enrollment_* always equals what the enrollment rows derive (SQLite and, in the
PostgreSQL pass, PostgreSQL): the triggers of migration 0003 keep it in every transaction."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import delete, insert, select, update

from models import Enrollment, EnrollmentStatus, Patient
from services import registration
from services.activation import Outcome, activate_account
from services.db import session_scope
from services.demo import seed_demo
from services.pins import generate_pin
from services.registration_form import RegistrationForm
from services.senders import Senders
from services.status import PortalStatus, derive_status, patient_status_sql, status_sql
from tests.factories import (
    make_appointment,
    make_enrollment,
    make_guardian,
    make_patient,
    make_practice,
    make_user,
)

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def derived_from_enrollments(session, patient_ids, now=NOW) -> dict[int, str]:
    live = {patient_id: (status, expires_at) for patient_id, status, expires_at in
            session.execute(select(Enrollment.patient_id, Enrollment.status,
                                   Enrollment.expires_at)
                            .where(Enrollment.status != EnrollmentStatus.voided.value))}
    return {patient_id: derive_status(*live.get(patient_id, (None, None)), now=now).value
            for patient_id in patient_ids}


def assert_patients_agree(session, patient_ids, now=NOW) -> None:
    session.flush()
    expected = derived_from_enrollments(session, patient_ids, now)
    rows = session.execute(select(Patient.id, Patient.live_enrollment_id,
                                  Patient.live_enrollment_status,
                                  Patient.live_enrollment_expires_at, patient_status_sql(now))
                           .where(Patient.id.in_(patient_ids))).all()
    from_columns = {pid: derive_status(status, expires, now=now).value
                    for pid, _, status, expires, _ in rows}
    in_sql = {pid: sql_status for pid, *_, sql_status in rows}
    assert from_columns == expected
    assert in_sql == expected
    live_ids = dict(session.execute(select(Enrollment.patient_id, Enrollment.id).where(
        Enrollment.status != EnrollmentStatus.voided.value)).all())
    assert {pid: live_id for pid, live_id, *_ in rows} == {
        pid: live_ids.get(pid) for pid in patient_ids}
    # And the schedule's old derivation (a join to the live enrollment) gives the same badges.
    joined = dict(session.execute(
        select(Patient.id, status_sql(now)).outerjoin(
            Enrollment, (Enrollment.patient_id == Patient.id)
            & (Enrollment.status != EnrollmentStatus.voided.value))
        .where(Patient.id.in_(patient_ids))).all())
    assert joined == expected


@pytest.fixture
def practice(session):
    return make_practice(session)


def test_every_kind_of_enrollment_change_is_mirrored_on_the_patient(session, practice):
    patient = make_patient(session, practice)
    other = make_patient(session, practice)
    ids = [patient.id, other.id]
    assert_patients_agree(session, ids)  # no enrollment: Not registered

    first = make_enrollment(session, practice, patient=patient, expires_at=NOW + dt.timedelta(
        days=1))
    assert_patients_agree(session, ids)  # Invited
    first.expires_at = NOW - dt.timedelta(seconds=1)
    session.add(first)
    assert_patients_agree(session, ids)  # PIN expired, derived at read time
    assert_patients_agree(session, ids, now=NOW - dt.timedelta(days=2))  # Invited back then
    for status in (EnrollmentStatus.locked, EnrollmentStatus.active, EnrollmentStatus.declined):
        first.status = status.value
        session.add(first)
        assert_patients_agree(session, ids)
    first.status = EnrollmentStatus.voided.value  # a new PIN voids the old one ...
    first.voided_at = NOW
    session.add(first)
    assert_patients_agree(session, ids)
    second = make_enrollment(session, practice, patient=patient)  # ... and issues another
    assert_patients_agree(session, ids)
    assert session.get(Patient, patient.id, populate_existing=True).live_enrollment_id == \
        second.id
    session.delete(second)
    assert_patients_agree(session, ids)


def test_bulk_statements_are_mirrored_too(session, practice):
    patients = [make_patient(session, practice) for _ in range(6)]
    guardian = make_guardian(session, practice, patients=patients)
    ids = [p.id for p in patients]
    session.execute(insert(Enrollment), [
        {"practice_id": practice.id, "patient_id": pid, "guardian_id": guardian.id,
         "link_token": f"bulk-{pid}", "status": "invited",
         "expires_at": NOW + dt.timedelta(days=index - 3)}
        for index, pid in enumerate(ids)])
    assert_patients_agree(session, ids)
    session.execute(update(Enrollment).where(Enrollment.patient_id.in_(ids[:3]))
                    .values(status="active"))
    assert_patients_agree(session, ids)
    session.execute(delete(Enrollment).where(Enrollment.patient_id.in_(ids[3:5])))
    assert_patients_agree(session, ids)


def test_a_random_history_of_changes_always_agrees(session, practice):
    rng = random.Random(17)
    patients = [make_patient(session, practice) for _ in range(8)]
    ids = [p.id for p in patients]
    statuses = [s.value for s in EnrollmentStatus if s != EnrollmentStatus.voided]
    for step in range(120):
        patient_id = rng.choice(ids)
        live = session.execute(select(Enrollment).where(
            Enrollment.patient_id == patient_id,
            Enrollment.status != EnrollmentStatus.voided.value)).scalar_one_or_none()
        move = rng.choice(["new", "status", "expiry", "void", "delete"])
        if live is None or move == "new":
            if live is not None:
                live.status = EnrollmentStatus.voided.value
                session.add(live)
                session.flush()
            make_enrollment(session, practice, patient=session.get(Patient, patient_id),
                            expires_at=NOW + dt.timedelta(hours=rng.randint(-48, 48)))
        elif move == "status":
            live.status = rng.choice(statuses)
        elif move == "expiry":
            live.expires_at = NOW + dt.timedelta(hours=rng.randint(-48, 48))
        elif move == "void":
            live.status = EnrollmentStatus.voided.value
        else:
            session.delete(live)
        if step % 10 == 9:
            session.commit()  # and across transactions
        assert_patients_agree(session, ids)


def _all_agree(practice_id: int, now=NOW) -> dict[int, str]:
    """Check every patient of the practice in a fresh unit of work; return their badges."""
    with session_scope(read_only=True) as session:
        ids = list(session.execute(select(Patient.id).where(
            Patient.practice_id == practice_id)).scalars())
        assert_patients_agree(session, ids, now)
        return derived_from_enrollments(session, ids, now)


def test_every_service_that_changes_an_enrollment_keeps_the_copy(session):
    """Registration, new PIN, wrong tries to a lock, activation, decline, import and demo."""
    practice = make_practice(session, pin_lifetime_days=14)
    staff = make_user(session, practices=[practice], username="desk-live")
    dob = dt.date(2017, 3, 4)
    alice = make_patient(session, practice, date_of_birth=dob)
    bob = make_patient(session, practice)
    guardians = {patient.id: make_guardian(session, practice, patients=[patient],
                                           email=f"parent{patient.id}@example.com")
                 for patient in (alice, bob)}
    visits = {patient.id: make_appointment(session, practice, patient=patient)
              for patient in (alice, bob)}
    session.commit()

    def enroll(patient, *, replacing=None):
        form = RegistrationForm(email=f"parent{patient.id}@example.com",
                                guardian_id=guardians[patient.id].id)
        common = {"practice_id": practice.id, "patient_id": patient.id, "form": form,
                  "actor": "desk-live", "staff_user_id": staff.id,
                  "appointment_id": visits[patient.id].id, "senders": Senders(), "now": NOW}
        with session_scope() as unit:
            if replacing is None:
                return registration.register_patient(unit, **common)
            return registration.issue_new_pin(unit, replacing_enrollment_id=replacing,
                                              **common)

    def attempt(result, pin):
        with session_scope() as unit:
            link = unit.get(Enrollment, result.enrollment_id).link_token
            return activate_account(unit, practice_id=practice.id, link_token=link,
                                    client_key=f"ip:{pin}", email="p@example.com",
                                    password="tulip orchard sunrise 42",
                                    repeat_password="tulip orchard sunrise 42", pin=pin,
                                    date_of_birth=dob, now=NOW)

    first = enroll(alice)
    assert _all_agree(practice.id)[alice.id] == PortalStatus.invited
    second = enroll(alice, replacing=first.enrollment_id)  # voids the first
    assert _all_agree(practice.id)[alice.id] == PortalStatus.invited
    assert _all_agree(practice.id, now=NOW + dt.timedelta(days=15))[alice.id] == \
        PortalStatus.pin_expired
    tries = [attempt(second, generate_pin()) for _ in range(5)]
    assert tries[-1].outcome == Outcome.locked
    assert _all_agree(practice.id)[alice.id] == PortalStatus.locked
    third = enroll(alice, replacing=second.enrollment_id)
    assert attempt(third, third.pin).outcome == Outcome.activated
    assert _all_agree(practice.id)[alice.id] == PortalStatus.active

    invited = enroll(bob)
    with session_scope() as unit:
        registration.decline_enrollment(unit, practice_id=practice.id, patient_id=bob.id,
                                        reason="Prefers paper", actor="desk-live",
                                        staff_user_id=staff.id,
                                        expected_enrollment_id=invited.enrollment_id, now=NOW)
    assert _all_agree(practice.id)[bob.id] == PortalStatus.declined


def test_seed_demo_and_its_enrollments_keep_the_copy(session):
    summary = seed_demo(session, practice_name="Live Copy Demo", appointments=300, seed=3)
    session.commit()
    badges = _all_agree(summary.practice_id)
    assert len(set(badges.values())) >= 3  # the demo mixes statuses


def test_an_import_that_changes_an_enrolled_patient_keeps_the_copy(session):
    from services import schedule_import
    from tests.services.test_schedule_import import SCHEDULE, TODAY, _csv

    practice = make_practice(session, name="Import Peds", timezone="America/New_York")
    patient = make_patient(session, practice, mrn=SCHEDULE[0]["MRN"], first_name="Before")
    make_enrollment(session, practice, patient=patient, expires_at=NOW + dt.timedelta(days=3))
    session.commit()
    schedule_import.import_schedule(session, practice_id=practice.id, data=_csv(SCHEDULE),
                                    filename="schedule.csv", actor="boss", create_missing=True,
                                    today=TODAY)
    session.commit()
    badges = _all_agree(practice.id)
    assert badges[patient.id] == PortalStatus.invited and len(badges) == 2
