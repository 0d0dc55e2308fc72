"""The patient's own invitation reads as written to them, in their language: the welcome email
(text and HTML) greets the patient by name and speaks of their own account, their care and their
date of birth, never "Maya's care" to Maya; the language is the family's (the first guardian's)
unless staff choose another, and the email, the link and the PIN letter (read back with pypdf)
follow it; a reminder of the patient's own invitation is in the same words and language."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from pypdf import PdfReader
from sqlmodel import func, select

from models import AuditEvent, Enrollment, EnrollmentRecipient, OutboxMessage
from services import reminders
from services.adolescent_invitation import LANGUAGE, family_language
from services.errors import InvalidInput
from services.letters import render_pin_letter
from tests.factories import make_guardian, make_patient, make_practice, make_user
from tests.services.test_adolescent_invitation import HELD, NOW, born, invite, patient_aged

ENGLISH = ("Sunny Peds invites you to your own account on its patient portal, where you can "
           "follow your care online.")
SPANISH = ("Sunny Peds le invita a su propia cuenta en su portal del paciente, donde podrá "
           "seguir en línea su atención médica.")


@pytest.fixture
def clinic(session):
    practice = make_practice(session, name="Sunny Peds", portal_url="https://portal.sunny.example",
                             timezone="America/New_York", phone="(555) 010-2000")
    staff = make_user(session, practices=[practice], username="frontdesk")
    session.commit()
    return {"practice": practice, "staff": staff}


def words(text: str) -> str:
    return " ".join(text.split())


def own_emails(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(
        select(OutboxMessage).join(Enrollment, Enrollment.id == OutboxMessage.enrollment_id)
        .where(Enrollment.recipient == EnrollmentRecipient.patient,
               OutboxMessage.channel == "email")
        .order_by(OutboxMessage.id)).all())


def letter_text(result) -> str:
    return words(PdfReader(io.BytesIO(render_pin_letter(result.letter))).pages[0].extract_text())


@pytest.mark.parametrize("age", [14, 19])
def test_the_own_email_is_written_to_the_patient_in_english(session, clinic, age):
    patient, _ = patient_aged(session, clinic, age)
    invite(clinic, patient, assent=age < 18)
    [email] = own_emails(session)
    for body in (words(email.body_text), words(email.body_html)):
        assert body.startswith("Dear Maya Ortiz,") or "<p>Dear Maya Ortiz,</p>" in body
        assert ENGLISH in body
        assert "Enter the PIN below and your date of birth." in body
        assert "Maya's" not in body and "Maya&#39;s" not in body
    assert email.subject == "Sunny Peds patient portal: your invitation to your own account"


def test_the_own_email_is_in_spanish_for_a_spanish_speaking_family(session, clinic):
    patient, _ = patient_aged(session, clinic, 15, language="es")
    result = invite(clinic, patient)
    [email] = own_emails(session)
    for body in (words(email.body_text), words(email.body_html)):
        assert "Estimado(a) Maya Ortiz:" in body
        assert SPANISH in body
        assert "Ingrese el PIN que aparece abajo y su fecha de nacimiento." in body
        assert "de Maya" not in body and "Dear" not in body
    assert email.subject == "Portal del paciente de Sunny Peds: su invitación a su propia cuenta"
    assert result.activation_url.endswith("&lang=es")
    assert "Ingrese el PIN impreso en esta carta y su fecha de nacimiento." in letter_text(result)


def test_the_language_defaults_to_the_first_guardians(session, clinic):
    patient = make_patient(session, clinic["practice"], first_name="Maya", last_name="Ortiz",
                           date_of_birth=born(16))
    make_guardian(session, clinic["practice"], patients=[patient], preferred_language="es")
    make_guardian(session, clinic["practice"], patients=[patient], preferred_language="en")
    alone = make_patient(session, clinic["practice"], first_name="Leo", date_of_birth=born(19))
    session.commit()
    practice_id = clinic["practice"].id
    assert family_language(session, practice_id=practice_id, patient_id=patient.id) == "es"
    assert family_language(session, practice_id=practice_id, patient_id=alone.id) == "en"
    session.commit()  # ends the read, so that the desk's transaction can begin
    result = invite(clinic, patient)
    assert "lang=es" in result.activation_url
    [detail] = [json.loads(row) for row in session.exec(
        select(AuditEvent.detail).where(AuditEvent.action == "patient_invited"))]
    assert detail["language"] == "es"


def test_a_chosen_language_wins_over_the_familys_on_email_link_and_letter(session, clinic):
    patient, _ = patient_aged(session, clinic, 15, language="es")
    other, _ = patient_aged(session, clinic, 16)  # an English-speaking family
    result = invite(clinic, patient, language="en")
    chosen = invite(clinic, other, email="leo@example.com", language="Español")
    english, spanish = own_emails(session)
    assert "lang=" not in result.activation_url
    assert ENGLISH in words(english.body_text)
    assert "Enter the PIN printed on this letter and your date of birth." in letter_text(result)

    assert chosen.activation_url.endswith("&lang=es")
    assert SPANISH in words(spanish.body_text)
    assert "Ingrese el PIN impreso en esta carta y su fecha de nacimiento." in letter_text(chosen)


def test_a_language_not_offered_is_named_and_nothing_is_written(session, clinic):
    patient, _ = patient_aged(session, clinic, 15)
    with pytest.raises(InvalidInput) as caught:
        invite(clinic, patient, language="Klingon")
    assert caught.value.field == LANGUAGE and "Klingon" in caught.value.message
    assert session.exec(select(func.count()).select_from(Enrollment).where(
        Enrollment.recipient == EnrollmentRecipient.patient)).one() == 0


@pytest.mark.parametrize(("language", "expected"), [
    ("en", ["Dear Maya Ortiz,", "Sunny Peds invited you to your own account on its patient "
            "portal, and your account is not created yet.", "your date of birth"]),
    ("es", ["Estimado(a) Maya Ortiz:", "Sunny Peds le invitó a su propia cuenta en su portal "
            "del paciente", "su fecha de nacimiento"]),
])
def test_a_reminder_of_the_own_invitation_is_written_to_the_patient(session, clinic, language,
                                                                    expected):
    patient, _ = patient_aged(session, clinic, 15, language=language)
    invite(clinic, patient)
    report = reminders.send_reminders(session, now=NOW + dt.timedelta(days=3), senders=HELD)
    assert report.reminded == 1
    reminder = own_emails(session)[-1]
    for body in (words(reminder.body_text), words(reminder.body_html)):
        assert all(part in body for part in expected), body
        assert "Maya's" not in body and "de Maya" not in body and "Hello" not in body
    assert ("your own account" if language == "en" else "su propia cuenta") in reminder.subject


def test_a_reminder_follows_the_chosen_language_recorded_on_the_invitation(session, clinic):
    patient, _ = patient_aged(session, clinic, 15, language="es")
    result = invite(clinic, patient, language="en")
    assert session.get(Enrollment, result.enrollment_id).language == "en"
    session.commit()
    reminders.send_reminders(session, now=NOW + dt.timedelta(days=3), senders=HELD)
    reminder = own_emails(session)[-1]
    assert "Sunny Peds invited you to your own account" in words(reminder.body_text)
    assert "lang=" not in reminder.body_text
