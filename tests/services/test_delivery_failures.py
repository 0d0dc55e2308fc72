"""Delivery failures in words, marked on the enrollment and audited."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from models import AuditEvent, Enrollment, OutboxMessage, OutboxStatus
from services import invitation_resend, registration
from services.db import session_scope
from services.delivery_failures import (
    clear_delivery_failure,
    failure_in_words,
    mark_delivery_failed,
)
from services.outbox import send_due_messages
from services.registration_form import RegistrationForm
from services.schedule import ScheduleCriteria, list_schedule
from services.settings import get_settings
from tests.factories import (
    make_appointment,
    make_enrollment,
    make_guardian,
    make_patient,
    make_practice,
    make_user,
)
from tests.smtp_server import HOST, smtp_server


def test_a_refused_address_reads_as_such():
    words = failure_in_words(channel="email", recipient="ana@gmial.com",
                             error="PermanentFailure: recipient refused: {'ana@gmial.com': "
                                   "(550, b'5.1.1 No such user')}")
    assert words == ("The email was refused: the mail server says ana@gmial.com does not exist. "
                     "Check the address with the parent.")


def test_other_failures_in_words():
    assert "code 554" in failure_in_words(channel="email", recipient="a@b.example",
                                          error="SMTP 554: b'Transaction failed'")
    assert "refused the number +16175550123" in failure_in_words(
        channel="sms_api", recipient="+16175550123", error="SMS API HTTP 400: invalid To")
    assert "after several tries" in failure_in_words(channel="email", recipient="a@b.example",
                                                     error="OSError: timed out")


def test_marking_and_clearing_the_enrollment(session):
    practice = make_practice(session)
    enrollment = make_enrollment(session, practice)
    reason = mark_delivery_failed(session, enrollment_id=enrollment.id, practice_id=practice.id,
                                  patient_id=enrollment.patient_id, channel="email",
                                  recipient="x@y.example", error="SMTP 550: b'no'")
    session.commit()
    session.expire_all()
    row = session.get(Enrollment, enrollment.id)
    assert row.delivery_failure == reason and row.delivery_failed_at is not None
    [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "delivery_failed")).all()
    assert event.patient_id == enrollment.patient_id
    clear_delivery_failure(session, enrollment_id=enrollment.id)
    session.commit()
    session.expire_all()
    assert session.get(Enrollment, enrollment.id).delivery_failure is None


# --- a real SMTP server refuses the address: back at the desk ----------------------------------


def test_a_5xx_refusal_marks_the_delivery_failed_on_the_dashboard_row_and_resend_fixes_it(
        session, monkeypatch):
    practice = make_practice(session, name="Sunny Peds")
    staff = make_user(session, practices=[practice])
    patient = make_patient(session, practice, first_name="Ava")
    guardian = make_guardian(session, practice, patients=[patient], email="ana@gmial.com")
    make_appointment(session, practice, patient=patient)
    session.commit()
    with smtp_server() as (inbox, port):
        inbox.refuse.add("ana@gmial.com")
        monkeypatch.setenv("PORTAL_SMTP_HOST", HOST)
        monkeypatch.setenv("PORTAL_SMTP_PORT", str(port))
        monkeypatch.setenv("PORTAL_SMTP_SECURITY", "none")
        get_settings.cache_clear()
        with session_scope() as s:
            result = registration.register_patient(
                s, practice_id=practice.id, patient_id=patient.id,
                form=RegistrationForm(email="ana@gmial.com", guardian_id=guardian.id),
                actor=staff.username, staff_user_id=staff.id)
        with session_scope() as s:
            report = send_due_messages(s)
        assert report.failed == 1 and inbox.messages == []

        today = dt.date.today()
        with session_scope(read_only=True) as s:
            [row] = list_schedule(s, practice_id=practice.id, criteria=ScheduleCriteria(
                start=today - dt.timedelta(days=1), end=today + dt.timedelta(days=1))).rows
        assert row.delivery_failure.startswith("The email was refused: the mail server says "
                                               "ana@gmial.com does not exist.")

        with session_scope() as s:
            invitation_resend.correct_email_and_resend(
                s, practice_id=practice.id, patient_id=patient.id,
                enrollment_id=result.enrollment_id, email="ana@gmail.com", actor=staff.username)
        with session_scope() as s:
            assert send_due_messages(s).sent == 1
    [message] = inbox.messages
    assert message["To"] == "ana@gmail.com"
    assert result.activation_url in message.get_body(("plain",)).get_content()
    with session_scope(read_only=True) as s:
        enrollment = s.get(Enrollment, result.enrollment_id)
        assert enrollment.email == "ana@gmail.com" and enrollment.delivery_failure is None
        statuses = sorted(m.status for m in s.exec(select(OutboxMessage)).all())
        assert statuses == [OutboxStatus.failed, OutboxStatus.sent]
