"""Register Patient in AppTest, the patient's own invitation: `Text the patient` (consent and
carrier, the PIN by text; a number that texted STOP refused under its field, nothing written),
and for a live one Resend (audited) and Cancel (a reason required; the patient may then be
invited again)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from models import AuditEvent, EnrollmentStatus, OutboxMessage, Role
from services.adolescent_invitation import (
    CANCEL_REASON,
    PHONE,
    PatientInvitationForm,
    invite_patient,
)
from services.db import session_scope
from services.senders import Senders
from services.text_opt_out import add_opt_out
from tests.factories import make_practice, make_user
from tests.pages.helpers import as_read, texts
from tests.pages.test_register_adolescent import (
    open_register,
    own_enrollments,
    patient_aged,
    prefix,
)


@pytest.fixture
def clinic(session):
    practice = make_practice(session, name="Sunny Peds", portal_url="https://portal.sunny.example")
    staff = make_user(session, role=Role.staff, practices=[practice], username="frontdesk")
    session.commit()
    return {"practice": practice, "staff": staff}


def fill_text_form(at, patient, *, phone="(617) 555-0123"):
    key = prefix(patient)
    at.text_input(key=key + "email").input("maya@example.com")
    at.text_input(key=key + "phone").input(phone)
    at.checkbox(key=key + "text").check().run()
    at.checkbox(key=key + "text_consent").check()
    at.selectbox(key=key + "carrier").select("uscellular")
    at.checkbox(key=key + "assent").check()
    return at.button(key=key + "submit").click().run()


def actions() -> list[tuple[str, dict]]:
    with session_scope(read_only=True) as session:
        return [(action, json.loads(detail)) for action, detail in session.exec(
            select(AuditEvent.action, AuditEvent.detail).order_by(AuditEvent.id)).all()]


def test_the_patient_is_texted_the_pin_with_their_consent(session, clinic):
    patient = patient_aged(session, clinic, 15)
    at = fill_text_form(open_register(clinic, patient), patient)
    assert not at.exception, at.exception
    shown = texts(at)
    assert "It goes by text message to (617) 555-0123" in shown
    assert "the email to maya@example.com carries the link" in shown
    [row] = own_enrollments()
    assert row.send_text and row.text_consent_by_id == clinic["staff"].id
    with session_scope(read_only=True) as check:
        channels = sorted(check.exec(select(OutboxMessage.channel)).all())
    assert channels == ["email", "sms_gateway"]


def test_a_number_that_texted_stop_is_refused_under_the_cell_phone(session, clinic):
    patient = patient_aged(session, clinic, 15)
    add_opt_out(session, phone="(617) 555-0123", actor="admin", source="reply")
    session.commit()
    at = fill_text_form(open_register(clinic, patient), patient)
    assert not at.exception, at.exception
    [error] = [as_read(error.value) for error in at.error if "opted out" in error.value]
    assert error.startswith(f"{PHONE}: (617) 555-0123 opted out of texts")
    assert own_enrollments() == []


def test_a_live_own_invitation_is_resent_then_cancelled_and_may_be_invited_again(session,
                                                                                clinic):
    patient = patient_aged(session, clinic, 16)
    with session_scope() as writing:
        invite_patient(writing, practice_id=clinic["practice"].id, patient_id=patient.id,
                       form=PatientInvitationForm(email="maya@example.com", assent=True),
                       actor="frontdesk", staff_user_id=clinic["staff"].id, senders=Senders())
    at = open_register(clinic, patient)
    key = prefix(patient)
    assert "Resend sends the link again to maya@example.com." in texts(at)

    at.button(key=key + "resend").click().run()
    assert not at.exception, at.exception
    assert "The patient's invitation was resent." in texts(at)
    assert [detail["recipient"] for action, detail in actions()
            if action == "invitation_resent"] == ["Patient"]

    at.button(key=key + "cancel").click().run()
    assert any(CANCEL_REASON in error.value for error in at.error)
    assert own_enrollments()[0].status == EnrollmentStatus.invited

    at.text_input(key=key + "cancel_reason").input("Wrong email address")
    at.button(key=key + "cancel").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "The patient's own invitation is cancelled" in shown
    assert "last invitation was cancelled: Wrong email address. They may be invited again." \
        in shown
    assert not [button for button in at.button if button.key == key + "resend"]
    assert at.button(key=key + "submit")  # the invitation form is back
    [row] = own_enrollments()
    assert row.status == EnrollmentStatus.voided and row.declined_reason == "Wrong email address"
    assert "patient_invitation_cancelled" in [action for action, _ in actions()]
