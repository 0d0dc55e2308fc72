"""Bulk invitations: the plan's skipped reasons, a failing patient that does not stop the batch,
an interrupted run re-run (one live enrollment each), the combined letters read back with pypdf."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
from pypdf import PdfReader
from sqlmodel import func, select

from models import (
    AuditEvent,
    Enrollment,
    EnrollmentStatus,
    Guardian,
    OutboxMessage,
    PatientGuardian,
)
from services.bulk_registration import (
    DECLINED,
    NO_EMAIL,
    NO_GUARDIAN,
    OPTED_OUT,
    plan_bulk,
    render_bulk_letters,
    run_bulk,
)
from services.schedule import ScheduleCriteria
from services.text_opt_out import add_opt_out
from tests.factories import (
    make_appointment,
    make_guardian,
    make_patient,
    make_practice,
)

ZONE = zoneinfo.ZoneInfo("America/New_York")
DAY = dt.date(2030, 3, 4)


def at(hour: int) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour), tzinfo=ZONE).astimezone(dt.UTC)


NOW = at(7)
CRITERIA = ScheduleCriteria(start=DAY, end=DAY)


@pytest.fixture
def day(session):
    practice = make_practice(session, name="Harbor Pediatrics", timezone="America/New_York")
    kids = {}

    def kid(name, *, email="parent@example.org", guardian=True, hour=9, family=None):
        patient = make_patient(session, practice, first_name=name, last_name="Doe",
                               mrn=f"MRN-{name}")
        if family is not None:
            session.add(PatientGuardian(patient_id=patient.id, guardian_id=family.id))
        elif guardian:
            make_guardian(session, practice, patients=[patient], first_name="Pat",
                          last_name="Doe", email=email)
        make_appointment(session, practice, patient=patient, start_at=at(hour))
        kids[name] = patient
        return patient

    kid("Ann", email="ann.parent@example.org")
    kid("Ben", email=None)
    kid("Cal", guardian=False)
    dee = kid("Dee", email="dee.parent@example.org")
    session.add(Enrollment(practice_id=practice.id, patient_id=dee.id, link_token="dee-token",
                           status=EnrollmentStatus.declined, declined_reason="No internet"))
    eve = kid("Eve", email="eve.parent@example.org")
    session.add(Enrollment(practice_id=practice.id, patient_id=eve.id, link_token="eve-token",
                           status=EnrollmentStatus.invited, expires_at=at(6)))  # PIN expired
    kid("Fay", email="bad@@example")  # fails the email check
    sib_parent = make_guardian(session, practice, first_name="Sib", last_name="Doe",
                               email="sibs@example.org")
    kid("Gus", family=sib_parent, hour=10)
    kid("Hal", family=sib_parent, hour=11)
    session.commit()
    return practice, kids


def planned(session, practice):
    """The plan; the test's session then ends its read (each patient has its own transaction)."""
    plan = plan_bulk(session, practice_id=practice.id, criteria=CRITERIA, now=NOW)
    session.commit()
    return plan


def live_count(session, patient_id):
    return session.exec(select(func.count()).select_from(Enrollment).where(
        Enrollment.patient_id == patient_id, Enrollment.status != EnrollmentStatus.voided)).one()


def test_plan_lists_who_is_invited_and_who_is_skipped_and_why(session, day):
    practice, _ = day
    plan = plan_bulk(session, practice_id=practice.id, criteria=CRITERIA, now=NOW)
    assert sorted(c.patient_name for c in plan.candidates) == [
        "Doe, Ann", "Doe, Eve", "Doe, Fay", "Doe, Gus", "Doe, Hal"]
    reasons = {skip.patient_name: skip.reason for skip in plan.skipped}
    assert reasons == {"Doe, Ben": NO_EMAIL, "Doe, Cal": NO_GUARDIAN, "Doe, Dee": DECLINED}
    assert "outbox" in plan.delivery


def test_a_failing_patient_is_listed_and_the_batch_carries_on(session, day):
    practice, kids = day
    plan = planned(session, practice)
    progress = []
    outcome = run_bulk(plan, practice_id=practice.id, actor="frontdesk", now=lambda: NOW,
                       on_progress=lambda done, total, name: progress.append((done, total)))
    assert [f.patient_name for f in outcome.failed] == ["Doe, Fay"]
    assert "email" in outcome.failed[0].reason.lower()
    assert sorted(r.patient_name for r in outcome.registered) == [
        "Ann Doe", "Eve Doe", "Gus Doe", "Hal Doe"]
    assert progress[-1] == (5, 5) and len(progress) == 5
    session.expire_all()
    assert live_count(session, kids["Fay"].id) == 0  # nothing half-written
    for name in ("Ann", "Eve", "Gus", "Hal"):
        assert live_count(session, kids[name].id) == 1
    # Eve's expired PIN was replaced, not doubled.
    assert session.exec(select(Enrollment.status).where(
        Enrollment.link_token == "eve-token")).one() == EnrollmentStatus.voided
    emails = session.exec(select(OutboxMessage.recipient)).all()
    assert sorted(emails) == ["ann.parent@example.org", "eve.parent@example.org",
                              "sibs@example.org", "sibs@example.org"]
    actions = session.exec(select(AuditEvent.action, AuditEvent.patient_id)).all()
    assert sorted(pid for action, pid in actions if action == "bulk_invited") == sorted(
        kids[name].id for name in ("Ann", "Eve", "Gus", "Hal"))
    assert [action for action, _ in actions].count("bulk_registration") == 1
    assert outcome.summary == "4 registered, 1 failed."


def test_an_interrupted_run_rerun_leaves_one_live_enrollment_each(session, day, monkeypatch):
    practice, kids = day
    plan = planned(session, practice)

    def stop_after_two(done, total, name):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_bulk(plan, practice_id=practice.id, actor="cron", on_progress=stop_after_two,
                 now=lambda: NOW)
    # The same (stale) plan again: the two already done are skipped, not registered twice.
    again = run_bulk(plan, practice_id=practice.id, actor="cron", now=lambda: NOW)
    assert len(again.skipped) == 2
    fresh = plan_bulk(session, practice_id=practice.id, criteria=CRITERIA, now=NOW)
    session.commit()
    assert [c.patient_name for c in fresh.candidates] == ["Doe, Fay"]
    session.expire_all()
    for name in ("Ann", "Eve", "Gus", "Hal"):
        assert live_count(session, kids[name].id) == 1


def test_combined_letters_have_one_page_per_family_with_each_pin(session, day):
    practice, _ = day
    plan = planned(session, practice)
    outcome = run_bulk(plan, practice_id=practice.id, actor="frontdesk", now=lambda: NOW)
    reader = PdfReader(io.BytesIO(render_bulk_letters(outcome)))
    assert len(reader.pages) == 3  # Ann's family, Eve's family, Gus and Hal's family
    pages = [page.extract_text() for page in reader.pages]
    by_name = {result.patient_name: result for result in outcome.registered}
    assert "Ann Doe" in pages[0] and by_name["Ann Doe"].pin in pages[0]
    assert "Gus Doe" in pages[2] and "Hal Doe" in pages[2]
    assert by_name["Gus Doe"].pin in pages[2] and by_name["Hal Doe"].pin in pages[2]
    assert "Harbor Pediatrics" in pages[1]


def test_guardian_model_is_untouched_by_a_failed_patient(session, day):
    practice, kids = day
    plan = planned(session, practice)
    run_bulk(plan, practice_id=practice.id, actor="frontdesk", now=lambda: NOW)
    session.expire_all()
    assert session.exec(select(Guardian.email).where(Guardian.email == "bad@@example")).one()


def test_a_spanish_guardian_gets_the_spanish_email_and_letter_page(session, day):
    practice, kids = day
    guardian = session.exec(select(Guardian).where(
        Guardian.email == "ann.parent@example.org")).one()
    guardian.preferred_language = "es"
    session.commit()
    plan = planned(session, practice)
    outcome = run_bulk(plan, practice_id=practice.id, actor="frontdesk", now=lambda: NOW)
    by_name = {result.patient_name: result for result in outcome.registered}
    assert "lang=es" in by_name["Ann Doe"].activation_url
    subjects = dict(session.exec(select(OutboxMessage.recipient, OutboxMessage.subject)).all())
    assert subjects["ann.parent@example.org"].startswith("Portal del paciente")
    assert not subjects["eve.parent@example.org"].startswith("Portal del paciente")
    pages = [page.extract_text() for page in
             PdfReader(io.BytesIO(render_bulk_letters(outcome))).pages]
    ann, eve = pages[0], pages[1]
    assert "Ann Doe" in ann and by_name["Ann Doe"].pin in ann
    assert "Invitación al portal del paciente para Ann Doe" in ann
    assert "Cada menor tiene su propio PIN" in ann
    assert "Válido hasta" in ann and "Fecha:" in ann
    assert "Eve Doe" in eve and "Patient portal invitation for Eve Doe" in eve
    assert "Invitación" not in eve


def test_an_opted_out_number_without_email_is_skipped_as_opted_out(session, day):
    practice, _ = day
    for name, email, phone in (("Ivy", None, "+16175550188"), ("Jon", "jon@example.org",
                                                                 "+16175550177")):
        patient = make_patient(session, practice, first_name=name, last_name="Doe",
                               mrn=f"MRN-{name}")
        make_guardian(session, practice, patients=[patient], email=email, cell_phone=phone)
        make_appointment(session, practice, patient=patient, start_at=at(12))
        add_opt_out(session, phone=phone, actor="admin", source="reply")
    session.commit()
    plan = plan_bulk(session, practice_id=practice.id, criteria=CRITERIA, now=NOW)
    reasons = {skip.patient_name: skip.reason for skip in plan.skipped}
    # STOP covers texts: with no email on file there is no way left to send the PIN.
    assert reasons["Doe, Ivy"] == OPTED_OUT
    assert "opted out" in OPTED_OUT.lower()
    assert reasons["Doe, Ben"] == NO_EMAIL  # no email, a number still textable
    # Bulk invitations go by email, which STOP does not cover: Jon is invited.
    assert "Doe, Jon" in [c.patient_name for c in plan.candidates]
    assert plan.skipped_by_reason[OPTED_OUT] == 1
