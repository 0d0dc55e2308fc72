"""Delivery failures in words, marked on the enrollment and audited."""

from __future__ import annotations

from sqlmodel import select

from models import AuditEvent, Enrollment
from services.delivery_failures import (
    clear_delivery_failure,
    failure_in_words,
    mark_delivery_failed,
)
from tests.factories import make_enrollment, make_practice


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
