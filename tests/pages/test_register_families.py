"""Register Patient for every family: `Preferred language` prefilled from the guardian,
`Text consent` required with Text Message, `Cell Carrier` only without the SMS API, the email
typo hint, and a failed delivery shown with its reason and fixed by correcting the address."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models import Enrollment, Guardian, OutboxMessage
from services.db import session_scope
from services.delivery_failures import mark_delivery_failed
from services.settings import get_settings
from tests.factories import (
    make_appointment,
    make_enrollment,
    make_guardian,
    make_patient,
    make_practice,
    make_user,
)
from tests.pages.helpers import texts
from tests.pages.test_register import (
    complete,
    email_box,
    field_errors,
    key,
    open_register,
    the_enrollment,
)


@pytest.fixture
def clinic(session):
    practice = make_practice(session, name="Sunny Peds", portal_url="https://portal.sunny.example")
    staff = make_user(session, practices=[practice], username="frontdesk")
    patient = make_patient(session, practice, first_name="Zoë", last_name="Nguyễn")
    guardian = make_guardian(session, practice, patients=[patient], first_name="Lan",
                             last_name="Nguyễn", email="lan@example.com",
                             cell_phone="+16175550123")
    appointment = make_appointment(session, practice, patient=patient)
    session.commit()
    return {"practice": practice, "staff": staff, "patient": patient, "guardian": guardian,
            "appointment": appointment}


def set_language(session, clinic, language: str) -> None:
    guardian = session.get(Guardian, clinic["guardian"].id)
    guardian.preferred_language = language
    session.add(guardian)
    session.commit()


def language_box(at, clinic):
    return at.selectbox(key=key(clinic, f"language_{clinic['guardian'].id}"))


def test_preferred_language_is_prefilled_from_the_guardian_and_decides_the_email(session,
                                                                                 clinic):
    set_language(session, clinic, "es")
    at = open_register(clinic, appointment=clinic["appointment"].id)
    box = language_box(at, clinic)
    assert box.label == "Preferred language" and box.value == "es"
    assert box.options == ["English", "Español"]
    complete(at, clinic)
    assert not at.exception
    with session_scope(read_only=True) as s:
        [email] = s.exec(select(OutboxMessage)).all()
        assert email.subject.startswith("Portal del paciente de Sunny Peds")
        assert "lang=es" in email.body_text


def test_staff_change_the_language_and_the_guardian_keeps_it(session, clinic):
    at = open_register(clinic, appointment=clinic["appointment"].id)
    assert language_box(at, clinic).value == "en"
    language_box(at, clinic).set_value("es")
    complete(at, clinic)
    with session_scope(read_only=True) as s:
        assert s.get(Guardian, clinic["guardian"].id).preferred_language == "es"


def test_text_consent_is_required_with_text_message(clinic):
    at = open_register(clinic, appointment=clinic["appointment"].id)
    at.checkbox(key=key(clinic, "text")).check().run()
    assert at.checkbox(key=key(clinic, "text_consent")).label == "Text consent"
    at.selectbox(key=key(clinic, "carrier")).set_value("cricket")
    complete(at, clinic)
    assert any(error.startswith("Text consent is required with Text Message")
               for error in field_errors(at))
    with session_scope(read_only=True) as s:
        assert s.exec(select(Enrollment)).all() == []


def test_with_the_sms_api_no_carrier_is_asked(clinic, monkeypatch):
    monkeypatch.setenv("PORTAL_SMS_API_URL", "https://sms.example/Messages")
    monkeypatch.setenv("PORTAL_SMS_API_ACCOUNT", "AC1")
    monkeypatch.setenv("PORTAL_SMS_API_TOKEN", "secret-token")
    get_settings.cache_clear()
    at = open_register(clinic, appointment=clinic["appointment"].id)
    at.checkbox(key=key(clinic, "text")).check().run()
    assert "Cell Carrier" not in [box.label for box in at.selectbox]
    at.checkbox(key=key(clinic, "text_consent")).check()
    complete(at, clinic)
    assert not at.exception
    with session_scope(read_only=True) as s:
        channels = sorted(m.channel for m in s.exec(select(OutboxMessage)).all())
    assert channels == ["email", "sms_api"]


@pytest.mark.parametrize(("typed", "meant"), [("lan@gmial.com", "lan@gmail.com"),
                                              ("lan@yaho.com", "lan@yahoo.com")])
def test_a_mistyped_domain_gets_a_hint_not_a_refusal(clinic, typed, meant):
    at = open_register(clinic, appointment=clinic["appointment"].id)
    email_box(at).input(typed).run()
    assert f"Did you mean {meant}?" in texts(at)
    complete(at, clinic)
    assert the_enrollment().email == typed  # a hint only: used as typed


def test_a_failed_delivery_shows_its_reason_and_the_address_can_be_corrected(session, clinic):
    enrollment = make_enrollment(session, clinic["practice"], patient=clinic["patient"],
                                 guardian=session.get(Guardian, clinic["guardian"].id),
                                 email="lan@gmial.com")
    mark_delivery_failed(session, enrollment_id=enrollment.id, practice_id=clinic["practice"].id,
                         patient_id=clinic["patient"].id, channel="email",
                         recipient="lan@gmial.com", error="SMTP 550: b'5.1.1 No such user'")
    session.commit()
    at = open_register(clinic, appointment=clinic["appointment"].id)
    assert "Delivery failed" in texts(at)
    assert "the mail server says lan@gmial.com does not exist" in texts(at)
    box = at.text_input(key=f"register_{clinic['patient'].id}_corrected_email")
    assert box.value == "lan@gmail.com"  # the typo hint's suggestion, to check with the parent
    at.button(key=f"register_{clinic['patient'].id}_corrected_email_button").click().run()
    assert not at.exception
    assert "Address corrected" in texts(at)
    with session_scope(read_only=True) as s:
        fixed = s.get(Enrollment, enrollment.id)
        assert fixed.email == "lan@gmail.com" and fixed.delivery_failure is None
        assert [m.recipient for m in s.exec(select(OutboxMessage)).all()] == ["lan@gmail.com"]
    assert "Delivery failed" not in texts(at)
