"""patient.live_enrollment_* always equals what the enrollment rows derive (SQLite and, in the
PostgreSQL pass, PostgreSQL): the triggers of migration 0003 keep it in every transaction."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import delete, insert, select, update

from models import Enrollment, EnrollmentStatus, Patient
from services.status import derive_status, patient_status_sql, status_sql
from tests.factories import make_enrollment, make_guardian, make_patient, make_practice

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
