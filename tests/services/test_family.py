"""A family in one form: two siblings in one submit → two enrollments, one email listing both,
one letter with both PINs; the parent activates both (the second as "I already have an
account"); an Active sibling is listed and not registered again. The family email is in the
family's language (Spanish through a real SMTP server), its HTML values escaped."""

from __future__ import annotations

import datetime as dt
import io
import urllib.parse
import zoneinfo

import pytest
from pypdf import PdfReader
from sqlmodel import select

from models import Enrollment, EnrollmentStatus, OutboxMessage, PatientGuardian
from services.activation import activate_account
from services.errors import InvalidInput
from services.family import find_siblings, register_family
from services.outbox import send_due_messages
from services.registration_form import RegistrationForm
from services.status import PortalStatus
from tests.factories import make_appointment, make_guardian, make_patient, make_practice
from tests.services.test_outbox import configure_smtp, parts
from tests.smtp_server import smtp_server

ZONE = zoneinfo.ZoneInfo("America/New_York")
DAY = dt.date(2030, 6, 3)
NOW = dt.datetime.combine(DAY, dt.time(9), tzinfo=ZONE).astimezone(dt.UTC)
PASSWORD = "Family-password-42!"


@pytest.fixture
def family(session):
    practice = make_practice(session, name="Maple Kids", timezone="America/New_York")
    ana = make_patient(session, practice, first_name="Ana", last_name="Reyes",
                       date_of_birth=dt.date(2018, 4, 1))
    ben = make_patient(session, practice, first_name="Ben", last_name="Reyes",
                       date_of_birth=dt.date(2020, 8, 9))
    cal = make_patient(session, practice, first_name="Cal", last_name="Reyes",
                       date_of_birth=dt.date(2016, 2, 2))
    dot = make_patient(session, practice, first_name="Dot", last_name="Reyes",
                       date_of_birth=dt.date(2021, 3, 3))
    mom = make_guardian(session, practice, patients=[ana, ben, cal], first_name="Rosa",
                        last_name="Reyes", email="rosa@example.org", cell_phone="+16175550111")
    # Dot's record has another guardian row with Rosa's email; Dot is on today's schedule.
    make_guardian(session, practice, patients=[dot], first_name="R.", last_name="Reyes",
                  email="rosa@example.org", cell_phone="+16175550999")
    make_appointment(session, practice, patient=dot, start_at=NOW)
    session.add(Enrollment(practice_id=practice.id, patient_id=cal.id, link_token="cal",
                           status=EnrollmentStatus.active))
    session.commit()
    return practice, mom, {"ana": ana, "ben": ben, "cal": cal, "dot": dot}


def test_siblings_by_guardian_and_by_contact_on_todays_schedule(session, family):
    practice, _, kids = family
    found = find_siblings(session, practice_id=practice.id, patient_id=kids["ana"].id, day=DAY,
                          now=NOW)
    assert [(s.name, s.status, s.can_register) for s in found] == [
        ("Ben Reyes", PortalStatus.not_registered, True),
        ("Cal Reyes", PortalStatus.active, False),
        ("Dot Reyes", PortalStatus.not_registered, True),
    ]
    assert "schedule" in found[2].why


def test_two_siblings_one_submit_one_email_one_letter_and_both_activate(session, family):
    practice, mom, kids = family
    result = register_family(
        session, practice_id=practice.id, patient_id=kids["ana"].id,
        sibling_ids=[kids["ben"].id], form=RegistrationForm(email=mom.email, guardian_id=mom.id),
        actor="frontdesk", day=DAY, now=NOW)
    session.commit()
    assert [c.patient_name for c in result.children] == ["Ana Reyes", "Ben Reyes"]
    live = session.exec(select(Enrollment).where(
        Enrollment.patient_id.in_([kids["ana"].id, kids["ben"].id]))).all()
    assert len(live) == 2 and {e.status for e in live} == {EnrollmentStatus.invited}
    messages = session.exec(select(OutboxMessage)).all()
    assert len(messages) == 1
    body = messages[0].body_text
    assert "Ana Reyes" in body and "Ben Reyes" in body and messages[0].sealed_secret is None
    assert result.children[1].activation_url in body
    assert messages[0].subject == "Maple Kids patient portal: your invitation for Ana and Ben"
    assert body.startswith("Dear Rosa Reyes,\n")
    assert "Enter the PIN printed on the letter Maple Kids gave you and Ben's date of birth." \
        in body
    assert 'Tick "I already have an account": this child joins the account you created for ' \
        "Ana." in body
    assert "The PINs work until June 17, 2030." in body
    assert all("lang=" not in child.activation_url for child in result.children)
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(result.letter_pdf())).pages]
    assert len(pages) == 1
    for child in result.children:
        assert child.pin in pages[0] and child.patient_name in pages[0]

    def activate(child, kid, existing):
        token = urllib.parse.parse_qs(urllib.parse.urlparse(child.activation_url).query)
        return activate_account(
            session, practice_id=practice.id, link_token=token["token"][0], client_key="ip:1",
            email=mom.email, password=PASSWORD, repeat_password=None if existing else PASSWORD,
            existing_account=existing, pin=child.pin, date_of_birth=kid.date_of_birth)

    assert activate(result.children[0], kids["ana"], False).activated
    assert activate(result.children[1], kids["ben"], True).activated
    session.commit()


def test_an_active_sibling_is_refused_and_nothing_is_written(session, family):
    practice, mom, kids = family
    with pytest.raises(InvalidInput) as error:
        register_family(session, practice_id=practice.id, patient_id=kids["ana"].id,
                        sibling_ids=[kids["cal"].id],
                        form=RegistrationForm(email=mom.email, guardian_id=mom.id),
                        actor="frontdesk", day=DAY, now=NOW)
    assert error.value.field == "Siblings"
    session.rollback()
    assert session.exec(select(OutboxMessage)).all() == []


def test_a_sibling_matched_by_email_is_linked_to_the_guardian(session, family):
    practice, mom, kids = family
    result = register_family(
        session, practice_id=practice.id, patient_id=kids["ana"].id,
        sibling_ids=[kids["dot"].id], form=RegistrationForm(email=mom.email, guardian_id=mom.id),
        actor="frontdesk", day=DAY, now=NOW)
    session.commit()
    dot = session.exec(select(Enrollment).where(Enrollment.patient_id == kids["dot"].id)).one()
    assert dot.guardian_id == mom.id and len(result.children) == 2


def _links(text: str) -> list[dict[str, list[str]]]:
    return [urllib.parse.parse_qs(urllib.parse.urlsplit(word).query)
            for word in text.split() if "/activate?" in word]


def test_a_spanish_family_gets_its_one_email_in_spanish_through_a_real_smtp_server(
        session, family, monkeypatch):
    practice, mom, kids = family
    with smtp_server() as (inbox, port):
        configure_smtp(monkeypatch, port)
        result = register_family(
            session, practice_id=practice.id, patient_id=kids["ana"].id,
            sibling_ids=[kids["ben"].id], actor="frontdesk", day=DAY, now=NOW,
            form=RegistrationForm(email=mom.email, guardian_id=mom.id,
                                  preferred_language="es"))
        session.commit()
        assert send_due_messages(session, message_ids=[result.message_id], now=NOW).sent == 1
    [message] = inbox.messages
    assert message["To"] == "rosa@example.org"
    assert message["Subject"] == (
        "Portal del paciente de Maple Kids: su invitación para Ana y Ben")
    text, html = (part.replace("\r\n", "\n") for part in parts(message))
    assert text.startswith("Estimado(a) Rosa Reyes:\n")
    assert "Maple Kids le invita a su portal del paciente" in text
    assert "Ana Reyes\n" in text and "Ben Reyes\n" in text
    assert ("Ingrese el PIN impreso en la carta que le dio Maple Kids y la fecha de nacimiento "
            "de Ben.") in text
    assert 'Marque "Ya tengo una cuenta"' in text
    assert "Los PIN son válidos hasta el 17 de junio de 2030." in text
    for english in ("Dear", "Open this link", "PINs work", "Tick", "June"):
        assert english not in text and english not in html, english
    links = _links(text)
    assert [link["lang"] for link in links] == [["es"], ["es"]]
    assert [child.activation_url for child in result.children] == [
        word for word in text.split() if "/activate?" in word]
    assert '<html lang="es">' in html and "Cree su cuenta del portal" in html
    assert "Agregue a Ben a su cuenta" in html and "17 de junio de 2030" in html
    for child in result.children:  # the button, the link and its written-out address
        assert html.count(f'"{child.activation_url.replace("&", "&amp;")}"') == 2
        assert html.count(child.activation_url.replace("&", "&amp;")) == 3
    assert result.letters[0].language == "es"


def test_the_family_emails_html_escapes_what_staff_typed(session, family):
    practice, mom, kids = family
    odd = make_patient(session, practice, first_name="<b>x</b>", last_name="Reyes",
                       date_of_birth=dt.date(2019, 5, 5))
    session.add(PatientGuardian(patient_id=odd.id, guardian_id=mom.id))
    session.commit()
    result = register_family(
        session, practice_id=practice.id, patient_id=kids["ana"].id, sibling_ids=[odd.id],
        form=RegistrationForm(email=mom.email, guardian_id=mom.id), actor="frontdesk",
        day=DAY, now=NOW)
    session.commit()
    row = session.get(OutboxMessage, result.message_id)
    assert "<b>" not in row.body_html
    assert "&lt;b&gt;x&lt;/b&gt; Reyes</h2>" in row.body_html
    assert "Add &lt;b&gt;x&lt;/b&gt; to your account" in row.body_html
    assert "<title>Maple Kids patient portal: your invitation for Ana and &lt;b&gt;x&lt;/b&gt;" \
        in row.body_html
    assert "<b>x</b> Reyes\n" in row.body_text  # the plain text part shows the name as typed
