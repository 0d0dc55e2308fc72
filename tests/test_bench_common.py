"""The pieces bench scripts share (bench/_common.py) and the visit factory bench and e2e seed
with: which families a registration bench may register, the timed loop, the percentiles."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from bench._common import percentiles, time_registrations, unregistered_families
from models import Appointment, Enrollment, PatientGuardian
from services.errors import InvalidInput
from services.senders import Senders
from tests.factories import make_enrollment, make_guardian, make_practice, make_visit

NOON = dt.datetime(2030, 3, 2, 17, 0, tzinfo=dt.UTC)


def test_percentiles_are_the_median_and_the_nearest_rank_95th():
    assert percentiles([float(n) for n in range(100, 0, -1)]) == {
        "p50_ms": 50.5, "p95_ms": 95.0, "runs": 100}
    assert percentiles([3.14159], digits=2) == {"p50_ms": 3.14, "p95_ms": 3.14, "runs": 1}


def test_a_visit_comes_with_a_new_a_shared_or_no_guardian(session):
    practice = make_practice(session)
    ana, ana_visit = make_visit(session, practice, start_at=NOON, first_name="Ana",
                                guardian={"first_name": "Maria", "email": "maria@example.org"})
    parent = session.exec(select(PatientGuardian).where(
        PatientGuardian.patient_id == ana.id)).one()
    sam, _ = make_visit(session, practice, start_at=NOON, guardian=make_guardian(
        session, practice, patients=[]), first_name="Sam")
    lee, _ = make_visit(session, practice, start_at=NOON, first_name="Lee")

    assert (ana.first_name, ana_visit.patient_id, ana_visit.start_at) == ("Ana", ana.id, NOON)
    assert parent.guardian_id is not None
    links = session.exec(select(PatientGuardian.patient_id)).all()
    assert sorted(links) == sorted([ana.id, sam.id])  # Lee has none
    assert len(session.exec(select(Appointment)).all()) == 3
    assert lee.id not in links


def test_only_patients_without_a_live_invitation_are_offered_once_each(session):
    practice = make_practice(session)
    free, _ = make_visit(session, practice, start_at=NOON, guardian={"email": "a@example.org"})
    make_guardian(session, practice, patients=[free], email="second@example.org")
    invited, _ = make_visit(session, practice, start_at=NOON, guardian={})
    make_enrollment(session, practice, patient=invited)
    make_visit(session, practice, start_at=NOON)  # no guardian: cannot be registered
    session.commit()

    families = unregistered_families(practice.id)

    assert [patient_id for patient_id, _, _ in families] == [free.id]
    assert families[0][2] == "a@example.org"  # the first guardian on file


def test_the_loop_registers_each_family_and_counts_or_raises_failures(session):
    practice = make_practice(session)
    for _ in range(2):
        make_visit(session, practice, start_at=NOON, guardian={})
    session.commit()
    families = unregistered_families(practice.id)
    failures: list[str] = []
    broken = iter([(families[0][0], families[0][1], "not an email"), *families])

    timings = time_registrations(broken, 3, practice_id=practice.id, senders=Senders(),
                                 failures=failures)

    assert len(timings) == 3 and all(ms > 0 for ms in timings)
    assert failures == ["InvalidInput"]
    assert len(session.exec(select(Enrollment)).all()) == 2
    session.commit()  # ends this session's read, so that the next registration may write
    with pytest.raises(InvalidInput):  # without `failures`, an error stops the run
        time_registrations(iter([(families[0][0], families[0][1], "not an email")]), 1,
                           practice_id=practice.id, senders=Senders())
