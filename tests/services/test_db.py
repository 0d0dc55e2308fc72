"""services/db.py: units of work, SQLite write locking, constraints in the database."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from models import Enrollment, EnrollmentStatus, Patient, Practice
from services.db import build_engine, session_scope
from tests.factories import make_appointment, make_patient, make_practice


def test_session_scope_rolls_back_on_error(database_url):
    with pytest.raises(RuntimeError), session_scope() as session:
        session.add(Practice(name="Rolled Back", timezone="UTC"))
        session.flush()
        raise RuntimeError("boom")
    with session_scope() as session:
        assert session.exec(select(Practice).where(Practice.name == "Rolled Back")).first() is None


def test_session_scope_commits_once_at_the_end(database_url):
    with session_scope() as session:
        session.add(Practice(name="Kept", timezone="UTC"))
    with session_scope(read_only=True) as session:
        assert session.exec(select(Practice).where(Practice.name == "Kept")).one()


def test_read_then_write_counter_is_exact_under_8_threads(database_url):
    with session_scope() as session:
        practice = make_practice(session, pin_lifetime_days=1)
        practice_id = practice.id
    errors = []

    def bump(times: int) -> None:
        try:
            for _ in range(times):
                with session_scope() as session:
                    row = session.exec(
                        select(Practice).where(Practice.id == practice_id).with_for_update()
                    ).one()
                    row.pin_lifetime_days = row.pin_lifetime_days + 1
                    session.add(row)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=bump, args=(20,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with session_scope(read_only=True) as session:
        assert session.get(Practice, practice_id).pin_lifetime_days == 1 + 8 * 20


def test_duplicate_mrn_in_one_practice_is_rejected(session):
    practice = make_practice(session)
    make_patient(session, practice, mrn="A1")
    with pytest.raises(IntegrityError):
        make_patient(session, practice, mrn="A1")


def test_same_mrn_in_two_practices_is_fine(session):
    make_patient(session, make_practice(session), mrn="A1")
    make_patient(session, make_practice(session), mrn="A1")
    assert len(session.exec(select(Patient).where(Patient.mrn == "A1")).all()) == 2


def test_duplicate_appointment_source_id_is_rejected(session):
    practice = make_practice(session)
    make_appointment(session, practice, source_id="S1")
    with pytest.raises(IntegrityError):
        make_appointment(session, practice, source_id="S1")


def _enrollment(patient: Patient, status: str) -> Enrollment:
    return Enrollment(
        practice_id=patient.practice_id, patient_id=patient.id, status=status,
        link_token=f"t-{status}-{patient.id}-{dt.datetime.now().timestamp()}",
    )


def test_second_live_enrollment_for_a_patient_is_rejected(session):
    patient = make_patient(session, make_practice(session))
    session.add(_enrollment(patient, EnrollmentStatus.invited))
    session.flush()
    session.add(_enrollment(patient, EnrollmentStatus.locked))
    with pytest.raises(IntegrityError):
        session.flush()


def test_voided_enrollments_do_not_count_as_live(session):
    patient = make_patient(session, make_practice(session))
    session.add(_enrollment(patient, EnrollmentStatus.voided))
    session.add(_enrollment(patient, EnrollmentStatus.voided))
    session.add(_enrollment(patient, EnrollmentStatus.invited))
    session.flush()


def test_unknown_role_is_rejected_by_a_check_constraint(session):
    practice = make_practice(session)
    with pytest.raises(IntegrityError):
        session.execute(text(
            "INSERT INTO staffuser (username, name, email, password_hash, role, disabled, "
            "failed_logins, created_at) VALUES ('x', 'X', 'x@example.com', 'h', 'root', "
            "false, 0, CURRENT_TIMESTAMP)"
        ))
    del practice


def test_foreign_keys_are_enforced(session):
    with pytest.raises(IntegrityError):
        session.add(Patient(practice_id=987654, mrn="X", first_name="A", last_name="B",
                            date_of_birth=dt.date(2020, 1, 1)))
        session.flush()


def test_times_come_back_in_utc(session):
    practice = make_practice(session)
    eastern = dt.timezone(dt.timedelta(hours=-5))
    appointment = make_appointment(
        session, practice, start_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=eastern)
    )
    session.commit()
    session.expire_all()
    stored = session.get(type(appointment), appointment.id).start_at
    assert stored == dt.datetime(2026, 1, 5, 14, 0, tzinfo=dt.UTC)
    assert stored.utcoffset() == dt.timedelta(0)


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path):
    engine = build_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    engine.dispose()
