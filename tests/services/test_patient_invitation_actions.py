"""The patient's own invitation gets what a parent's has: a text message (written to the patient,
in the invitation's language; refused, naming the field, to a number that texted STOP), Resend
(the enrollment's own address, the same rules as the parent's: unsent originals again, else the
link without a PIN; a real SMTP server receives it) and Cancel (voided with its reason, audited;
the patient may be invited again)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from models import (
    AuditEvent,
    Enrollment,
    EnrollmentRecipient,
    EnrollmentStatus,
    OutboxMessage,
    OutboxStatus,
    TextLog,
)
from services import registration_context
from services.activation import describe_link
from services.activation_messages import pin_source_instruction
from services.adolescent_invitation import (
    CANCEL_REASON,
    CARRIER,
    PHONE,
    TEXT_CONSENT,
    PatientInvitationForm,
    cancel_patient_invitation,
    invite_patient,
)
from services.audit_details import describe_detail
from services.db import session_scope
from services.errors import Conflict, InvalidInput
from services.invitation_resend import resend_invitation
from services.messages import PIN_PLACEHOLDER
from services.outbox import send_due_messages
from services.senders import Senders
from services.text_opt_out import add_opt_out
from tests.factories import make_practice, make_user
from tests.fakes import RecordingMailer
from tests.services.test_adolescent_invitation import HELD, NOW, patient_aged, register_parent
from tests.services.test_outbox import configure_smtp, parts
from tests.smtp_server import smtp_server

LATER = NOW.replace(hour=18)
TEXTED = {"send_text": True, "text_consent": True, "cell_phone": "(617) 555-0123",
          "cell_carrier": "uscellular"}
GATEWAY = "6175550123@email.uscc.net"


@pytest.fixture
def clinic(session):
    practice = make_practice(session, name="Sunny Peds", portal_url="https://portal.sunny.example",
                             timezone="America/New_York", phone="(555) 010-2000")
    staff = make_user(session, practices=[practice], username="frontdesk")
    session.commit()
    return {"practice": practice, "staff": staff}


def invite(clinic, patient, *, email="maya@example.com", senders=HELD, now=NOW, **changes):
    with session_scope() as session:
        return invite_patient(
            session, practice_id=clinic["practice"].id, patient_id=patient.id,
            form=PatientInvitationForm(email=email, assent=True, **changes), actor="frontdesk",
            staff_user_id=clinic["staff"].id, senders=senders, now=now)


def resend(clinic, patient, enrollment_id, *, senders=HELD, now=LATER):
    with session_scope() as session:
        return resend_invitation(
            session, practice_id=clinic["practice"].id, patient_id=patient.id,
            enrollment_id=enrollment_id, actor="frontdesk",
            recipient=EnrollmentRecipient.patient, senders=senders, now=now)


def cancel(clinic, patient, enrollment_id, reason="Wrong email address", now=LATER):
    with session_scope() as session:
        cancel_patient_invitation(session, practice_id=clinic["practice"].id,
                                  patient_id=patient.id, enrollment_id=enrollment_id,
                                  reason=reason, actor="frontdesk", now=now)


def outbox(*where) -> list[OutboxMessage]:
    with session_scope(read_only=True) as session:
        found = session.exec(select(OutboxMessage).where(*where)
                             .order_by(OutboxMessage.id)).all()
        for row in found:
            session.expunge(row)
        return found


def events(action: str) -> list[dict]:
    with session_scope(read_only=True) as session:
        return [json.loads(detail) for detail in session.exec(
            select(AuditEvent.detail).where(AuditEvent.action == action)).all()]


def enrollment(enrollment_id: int) -> Enrollment:
    with session_scope(read_only=True) as session:
        row = session.get(Enrollment, enrollment_id)
        session.expunge(row)
        return row


def words(text: str) -> str:
    return " ".join(text.split())


# --- the text message --------------------------------------------------------------------------


def test_the_text_carries_the_pin_in_spanish_words_to_the_patient(session, clinic):
    patient, _ = patient_aged(session, clinic, 15, language="es")
    result = invite(clinic, patient, **TEXTED)

    email, text = outbox()
    assert text.channel == "sms_gateway" and text.recipient == GATEWAY
    assert text.body_text.startswith(
        f"Sunny Peds: el PIN de su propia cuenta del portal es {PIN_PLACEHOLDER}.")
    assert "Úselo con el enlace de nuestro correo." in text.body_text
    assert "Maya" not in text.body_text and text.sealed_secret is not None
    # As on the parent's: the PIN goes by text, the email carries the link (no PIN).
    assert PIN_PLACEHOLDER not in email.body_text and email.sealed_secret is None
    assert ("Ingrese el PIN que le enviamos a su celular por mensaje de texto y su fecha de "
            "nacimiento.") in words(email.body_text)
    assert result.pin_channel == "text" and result.texted
    row = enrollment(result.enrollment_id)
    assert row.send_text and row.text_consent_by_id == clinic["staff"].id
    assert row.cell_carrier == "uscellular" and row.language == "es"
    [invited] = events("patient_invited")
    assert invited["pin_sent_by"] == "text"
    assert invited["channel"] == ["email", "sms_gateway"] and invited["text_consent"]
    with session_scope(read_only=True) as check:
        detail = check.exec(select(AuditEvent.detail).where(
            AuditEvent.action == "patient_invited")).one()
    shown = describe_detail(detail, timezone="America/New_York")
    assert "Sent by: Email, Text via carrier gateway" in shown and "sms_gateway" not in shown
    assert [log.phone for log in session.exec(select(TextLog)).all()] == ["+16175550123"]


@pytest.mark.parametrize(("texted", "email", "instruction"), [
    (True, "maya@example.com", "Ingrese el PIN del mensaje de texto que le enviamos y su fecha "
                               "de nacimiento."),
    (True, "", "Ingrese el PIN impreso en la carta que le entregó el consultorio y su fecha de "
               "nacimiento."),
    (False, "maya@example.com", "Ingrese el PIN de su correo de bienvenida y su fecha de "
                                "nacimiento."),
])
def test_the_activation_page_asks_for_the_pin_where_it_went_and_the_own_birth_date(
        session, clinic, texted, email, instruction):
    patient, _ = patient_aged(session, clinic, 15, language="es")
    result = invite(clinic, patient, email=email, **(TEXTED if texted else {}))
    with session_scope(read_only=True) as check:
        link = describe_link(check, practice_id=clinic["practice"].id, now=NOW,
                             link_token=enrollment(result.enrollment_id).link_token)
    assert link.own_account
    assert pin_source_instruction(link.pin_source, "es", own_account=True) == instruction


def test_without_an_email_the_text_carries_the_link_and_the_letter_the_pin(session, clinic):
    patient, _ = patient_aged(session, clinic, 19)
    result = invite(clinic, patient, email="", **TEXTED)

    [text] = outbox()
    assert text.sealed_secret is None and PIN_PLACEHOLDER not in text.body_text
    assert (f"Sunny Peds: create your own patient portal account at {result.activation_url} "
            "with the PIN on the letter we gave you.") in text.body_text
    assert result.pin_channel == "letter" and result.letter.pin == result.pin
    assert events("patient_invited")[0]["pin_sent_by"] == "letter"


def test_a_number_that_texted_stop_is_refused_naming_the_field(session, clinic):
    patient, _ = patient_aged(session, clinic, 16)
    add_opt_out(session, phone="617-555-0123", actor="admin", source="reply")
    session.commit()
    with pytest.raises(InvalidInput) as raised:
        invite(clinic, patient, **TEXTED)
    assert raised.value.field == PHONE
    assert raised.value.message.startswith(f"{PHONE}: (617) 555-0123 opted out of texts")
    session.commit()
    assert outbox() == [] and session.exec(select(Enrollment)).all() == []
    session.commit()
    # Unticked, the same invitation goes by email.
    assert invite(clinic, patient, cell_phone="(617) 555-0123").pin_channel == "email"


@pytest.mark.parametrize(("changes", "field"), [
    ({"text_consent": False}, TEXT_CONSENT),
    ({"cell_carrier": None}, CARRIER),
    ({"cell_carrier": "tmobile"}, CARRIER),  # its gateway closed: the text would vanish
    ({"cell_phone": ""}, PHONE),
])
def test_a_text_without_what_it_needs_is_refused_naming_the_field(session, clinic, changes,
                                                                  field):
    patient, _ = patient_aged(session, clinic, 16)
    with pytest.raises(InvalidInput) as raised:
        invite(clinic, patient, **{**TEXTED, **changes})
    assert raised.value.field == field and field in raised.value.message
    assert outbox() == []


def test_a_reminder_text_of_the_own_invitation_is_written_to_the_patient(session, clinic):
    from services import reminders

    patient, _ = patient_aged(session, clinic, 15, language="es")
    invite(clinic, patient, email="", **TEXTED)
    with session_scope() as check:
        report = reminders.send_reminders(check, now=NOW.replace(day=NOW.day + 4), senders=HELD)
    assert report.texts == 1
    reminder = outbox()[-1]
    assert reminder.body_text.startswith(
        "Sunny Peds: le recordamos crear su propia cuenta del portal del paciente en "
        "https://portal.sunny.example/activate?")
    assert "Maya" not in reminder.body_text


# --- resend --------------------------------------------------------------------------------------


def test_resend_of_an_unsent_own_invitation_requeues_it_with_its_pin(session, clinic):
    patient, _ = patient_aged(session, clinic, 15)
    result = invite(clinic, patient)
    resent = resend(clinic, patient, result.enrollment_id,
                    senders=Senders(mailer=RecordingMailer()))
    assert resent.message_ids == result.message_ids and resent.new_messages == 0
    [message] = outbox()
    assert message.status == OutboxStatus.pending and message.sealed_secret
    [event] = events("invitation_resent")
    assert event["recipient"] == EnrollmentRecipient.patient and event["requeued"] == 1


def test_resend_after_delivery_sends_the_link_to_the_own_address_in_spanish(session, clinic,
                                                                            monkeypatch):
    patient, guardian = patient_aged(session, clinic, 16, language="es")
    register_parent(clinic, patient, guardian)  # the parent's invitation stays as it is
    with smtp_server() as (inbox, port):
        configure_smtp(monkeypatch, port)
        result = invite(clinic, patient, email="maya.o@example.com", senders=None)
        with session_scope() as delivery:
            send_due_messages(delivery, message_ids=result.message_ids, now=NOW)
        resent = resend(clinic, patient, result.enrollment_id, senders=None)
        with session_scope() as delivery:
            report = send_due_messages(delivery, message_ids=resent.message_ids, now=LATER)

    assert report.sent == 1 and resent.new_messages == 1
    first, again = inbox.messages
    assert again["To"] == "maya.o@example.com"
    assert again["Subject"] == ("Portal del paciente de Sunny Peds: su invitación a su propia "
                                "cuenta")
    text, html = parts(again)
    assert ("Le enviamos de nuevo su invitación a su propia cuenta en el portal del paciente de "
            "Sunny Peds.") in words(text)
    assert "su propia cuenta" in words(html) and "Maya Ortiz" in text
    # The PIN is kept only as a hash: the resend carries the link, never the PIN.
    assert result.pin not in text and result.activation_url in text
    assert result.pin in parts(first)[0]


def test_resend_of_a_text_only_invitation_texts_the_link_unless_the_number_opted_out(session,
                                                                                   clinic):
    patient, _ = patient_aged(session, clinic, 19)
    result = invite(clinic, patient, email="", **TEXTED)
    with session_scope() as delivery:
        send_due_messages(delivery, senders=Senders(mailer=RecordingMailer()), now=NOW)
    day_after = NOW.replace(day=NOW.day + 1, hour=17)
    resent = resend(clinic, patient, result.enrollment_id, now=day_after)
    [again] = outbox(OutboxMessage.id == resent.message_ids[0])
    assert again.recipient == GATEWAY and result.activation_url in again.body_text

    with session_scope() as delivery:
        send_due_messages(delivery, senders=Senders(mailer=RecordingMailer()), now=day_after)
    add_opt_out(session, phone="+16175550123", actor="admin", source="reply")
    session.commit()
    with pytest.raises(Conflict) as raised:
        resend(clinic, patient, result.enrollment_id, now=day_after.replace(day=NOW.day + 3))
    assert "opted out" in raised.value.message


def test_resend_of_an_expired_own_invitation_says_to_invite_again(session, clinic):
    patient, _ = patient_aged(session, clinic, 15)
    result = invite(clinic, patient)
    with pytest.raises(Conflict) as raised:
        resend(clinic, patient, result.enrollment_id, now=result.expires_at.replace(
            year=result.expires_at.year + 1))
    assert "PIN expired" in raised.value.message


# --- cancel ------------------------------------------------------------------------------------


def test_cancelling_voids_the_own_invitation_with_its_reason_and_allows_a_new_one(session,
                                                                                 clinic):
    patient, guardian = patient_aged(session, clinic, 15)
    parent = register_parent(clinic, patient, guardian)
    result = invite(clinic, patient)
    cancel(clinic, patient, result.enrollment_id, reason="  The patient   does not want one ")

    row = enrollment(result.enrollment_id)
    assert row.status == EnrollmentStatus.voided and row.secret_hash is None
    assert row.declined_reason == "The patient does not want one"
    [unsent] = outbox(OutboxMessage.enrollment_id == result.enrollment_id)
    assert unsent.status == OutboxStatus.failed and unsent.sealed_secret is None
    assert unsent.last_error.startswith("Not sent")
    [event] = events("patient_invitation_cancelled")
    assert event["reason"] == "The patient does not want one"
    assert events("pin_voided")[0]["enrollment_id"] == result.enrollment_id
    with session_scope(read_only=True) as check:
        context = registration_context.get_registration_context(
            check, practice_id=clinic["practice"].id, patient_id=patient.id, now=LATER)
    assert context.own_enrollment is None and context.live_enrollment.id == parent.enrollment_id
    assert enrollment(parent.enrollment_id).status == EnrollmentStatus.invited

    again = invite(clinic, patient, email="maya.ortiz@example.com", now=LATER)
    assert enrollment(again.enrollment_id).status == EnrollmentStatus.invited


def test_cancelling_needs_a_reason_and_the_invitation_the_page_showed(session, clinic):
    patient, _ = patient_aged(session, clinic, 15)
    result = invite(clinic, patient)
    with pytest.raises(InvalidInput) as raised:
        cancel(clinic, patient, result.enrollment_id, reason="  ")
    assert raised.value.field == CANCEL_REASON and CANCEL_REASON in raised.value.message
    with pytest.raises(Conflict):
        cancel(clinic, patient, result.enrollment_id + 1)
    assert enrollment(result.enrollment_id).status == EnrollmentStatus.invited
    assert events("patient_invitation_cancelled") == []
