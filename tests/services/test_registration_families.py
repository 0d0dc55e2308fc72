"""Registration for every family: the Spanish welcome email through a real SMTP server, the
preferred language kept on the guardian, text consent, the STOP list and the caps, the SMS API
as the default path and closed gateways refused without it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from models import Enrollment, Guardian, OutboxMessage, TextLog
from services import registration, text_opt_out
from services.db import session_scope
from services.errors import InvalidInput
from services.outbox import send_due_messages
from services.registration_form import RegistrationForm, check_form
from services.settings import Settings, get_settings
from tests.factories import make_guardian, make_patient, make_practice, make_user
from tests.smtp_server import HOST, smtp_server

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
SMS_API = Settings(sms_api_url="https://sms.example/Messages", sms_api_account="AC1",
                   sms_api_token="secret-token")


@pytest.fixture
def clinic(session):
    practice = make_practice(session, name="Pediatría del Valle",
                             portal_url="https://portal.valle.example", phone="(555) 010-2000")
    staff = make_user(session, practices=[practice], username="frontdesk")
    patients = [make_patient(session, practice, first_name=name)
                for name in ("Mateo", "Valeria", "Diego")]
    guardian = make_guardian(session, practice, patients=patients, first_name="Lucía",
                             last_name="Peña", email="lucia@example.com")
    session.commit()
    return {"practice": practice, "staff": staff, "patients": patients, "guardian": guardian}


def register(clinic, *, patient=0, settings=None, now=NOW, **changes):
    values = {"email": "lucia@example.com", "guardian_id": clinic["guardian"].id}
    values.update(changes)
    with session_scope() as session:
        return registration.register_patient(
            session, practice_id=clinic["practice"].id,
            patient_id=clinic["patients"][patient].id, form=RegistrationForm(**values),
            actor="frontdesk", staff_user_id=clinic["staff"].id, settings=settings, now=now)


def rows(table):
    with session_scope(read_only=True) as session:
        found = session.exec(select(table)).all()
        for row in found:
            session.expunge(row)
        return found


def test_a_spanish_preferring_parent_receives_the_welcome_email_in_spanish(clinic, monkeypatch):
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("PORTAL_SMTP_HOST", HOST)
        monkeypatch.setenv("PORTAL_SMTP_PORT", str(port))
        monkeypatch.setenv("PORTAL_SMTP_SECURITY", "none")
        get_settings.cache_clear()
        result = register(clinic, preferred_language="es")
        with session_scope() as session:
            assert send_due_messages(session, now=NOW).sent == 1
    [message] = inbox.messages
    assert message["Subject"] == (
        "Portal del paciente de Pediatría del Valle: su invitación para Mateo")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.startswith("Estimado(a) Lucía Peña:")
    assert "Pediatría del Valle le invita a su portal del paciente" in text
    assert f"Su PIN: {result.pin}" in text
    assert "El PIN es válido hasta el 15 de diciembre de 2026." in text
    assert "lang=es" in result.activation_url and result.activation_url in text
    assert '<html lang="es">' in html and "Cree su cuenta del portal" in html
    [guardian] = rows(Guardian)
    assert guardian.preferred_language == "es"
    assert result.letter.language == "es"


def test_english_stays_the_default_and_the_link_carries_no_language(clinic):
    result = register(clinic)
    assert "lang=" not in result.activation_url
    [email] = rows(OutboxMessage)
    assert email.body_text.startswith("Dear Lucía Peña,")


def test_a_language_without_a_catalog_is_refused_naming_the_field(clinic):
    problems = check_form(RegistrationForm(email="a@b.example", guardian_id=1,
                                           preferred_language="Klingon"))
    assert [problem.field for problem in problems] == ["Preferred language"]
    assert "English, Español" in problems[0].message


def test_text_consent_is_required_with_text_message_and_stored_with_who_and_when(clinic):
    with pytest.raises(InvalidInput) as refused:
        register(clinic, send_text=True, cell_phone="6175550123", cell_carrier="cricket")
    assert refused.value.field == "Text consent"
    assert rows(Enrollment) == []
    register(clinic, send_text=True, text_consent=True, cell_phone="6175550123",
             cell_carrier="cricket", preferred_language="es")
    [enrollment] = rows(Enrollment)
    assert enrollment.text_consent_at == NOW
    assert enrollment.text_consent_by_id == clinic["staff"].id
    text = next(row for row in rows(OutboxMessage) if row.channel == "sms_gateway")
    assert text.body_text.startswith("Pediatría del Valle: su PIN del portal para Mateo es")
    assert text.body_text.endswith("Responda STOP para no recibir más mensajes")


def test_the_stop_list_blocks_the_text_and_the_pin_goes_by_email(clinic):
    with session_scope() as session:
        text_opt_out.add_opt_out(session, phone="6175550123", actor="desk", source="reply")
    result = register(clinic, send_text=True, text_consent=True, cell_phone="6175550123",
                      cell_carrier="cricket")
    assert result.text_refusal and "opted out" in result.text_refusal
    assert result.pin_channel == "email"
    assert [row.channel for row in rows(OutboxMessage)] == ["email"]
    assert rows(TextLog) == []


def test_one_text_a_day_per_number(clinic):
    first = register(clinic, send_text=True, text_consent=True, cell_phone="6175550123",
                     cell_carrier="cricket")
    second = register(clinic, patient=1, send_text=True, text_consent=True,
                      cell_phone="6175550123", cell_carrier="cricket",
                      now=NOW + dt.timedelta(hours=2))
    assert first.text_refusal is None and first.pin_channel == "text"
    assert second.text_refusal and "last 24 hours" in second.text_refusal
    assert [row.channel for row in rows(OutboxMessage)].count("sms_gateway") == 1
    third = register(clinic, patient=2, send_text=True, text_consent=True,
                     cell_phone="6175550123", cell_carrier="cricket",
                     now=NOW + dt.timedelta(days=1, hours=1))
    assert third.text_refusal is None
    assert len(rows(TextLog)) == 2


def test_closed_carriers_are_refused_without_the_sms_api(clinic):
    for key in ("att", "tmobile", "sprint"):
        problems = check_form(RegistrationForm(
            email="lucia@example.com", guardian_id=1, send_text=True, text_consent=True,
            cell_phone="6175550123", cell_carrier=key))
        assert [problem.field for problem in problems] == ["Cell Carrier"], key
        assert "closed its email-to-text gateway" in problems[0].message


def test_with_the_sms_api_it_is_the_default_path_and_no_carrier_is_needed(clinic):
    assert check_form(RegistrationForm(
        email="lucia@example.com", guardian_id=1, send_text=True, text_consent=True,
        cell_phone="6175550123", cell_carrier="att"), settings=SMS_API) == []
    register(clinic, settings=SMS_API, send_text=True, text_consent=True,
             cell_phone="(617) 555-0123")
    text = next(row for row in rows(OutboxMessage) if row.channel != "email")
    assert text.channel == "sms_api" and text.recipient == "+16175550123"


def test_longest_practice_name_still_fits_one_text(session, clinic):
    clinic["practice"].name = "Centro Pediátrico " + "y Familiar " * 20
    clinic["practice"].name = clinic["practice"].name[:200]
    session.add(clinic["practice"])
    session.commit()
    for index, language in enumerate(("en", "es")):
        register(clinic, patient=index, send_text=True, text_consent=True,
                 cell_phone=f"617555012{index}", cell_carrier="cricket",
                 preferred_language=language)
    texts = [row for row in rows(OutboxMessage) if row.channel == "sms_gateway"]
    assert len(texts) == 2
    for text in texts:
        shown = text.body_text.replace("[[PIN]]", "7KQ4M-9TXR2")
        assert len(shown) <= 160, shown
        assert shown.startswith("Centro Pediátrico")


def test_without_a_language_on_the_form_the_guardians_own_is_kept(session, clinic):
    guardian = session.get(Guardian, clinic["guardian"].id)
    guardian.preferred_language = "es"
    session.add(guardian)
    session.commit()
    result = register(clinic)  # e.g. a caller that does not ask
    assert "lang=es" in result.activation_url and result.letter.language == "es"
    [email] = rows(OutboxMessage)
    assert email.subject.startswith("Portal del paciente")
    assert rows(Guardian)[0].preferred_language == "es"
