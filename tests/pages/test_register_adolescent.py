"""Register Patient for adolescents and young adults in AppTest: the parent access level shown
before Complete Registration, `Invite the patient` (assent required, recorded with who and when),
and the young adult at the minor age limit (no parent form; invited in their own name)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import func, select

from models import AuditEvent, Enrollment, EnrollmentRecipient, Role
from services.adolescent_invitation import ASSENT, EMAIL
from services.db import session_scope
from services.pins import format_pin, generate_pin, normalize_pin, verify_secret
from tests.factories import (
    make_enrollment,
    make_guardian,
    make_patient,
    make_practice,
    make_user,
)
from tests.pages.helpers import app_test, signed_in, texts

PAGE = "pages/register.py"


def born(age: int) -> dt.date:
    # Half a year past the birthday, so that the practice's today cannot straddle it.
    today = dt.date.today() - dt.timedelta(days=183)
    try:
        return today.replace(year=today.year - age)
    except ValueError:
        return today.replace(year=today.year - age, day=28)


@pytest.fixture
def clinic(session):
    practice = make_practice(session, name="Sunny Peds", portal_url="https://portal.sunny.example")
    staff = make_user(session, role=Role.staff, practices=[practice], username="frontdesk")
    session.commit()
    return {"practice": practice, "staff": staff}


def patient_aged(session, clinic, age: int):
    patient = make_patient(session, clinic["practice"], first_name="Maya", last_name="Ortiz",
                           date_of_birth=born(age))
    make_guardian(session, clinic["practice"], patients=[patient], email="ana@example.com")
    session.commit()
    return patient


def open_register(clinic, patient):
    at = signed_in("frontdesk", practice_id=clinic["practice"].id)
    at.query_params["patient"] = str(patient.id)
    at.switch_page(PAGE)
    return at.run()


def prefix(patient) -> str:
    return f"patient_invitation_{patient.id}_"


def own_enrollments() -> list[Enrollment]:
    with session_scope(read_only=True) as session:
        rows = session.exec(select(Enrollment).where(
            Enrollment.recipient == EnrollmentRecipient.patient)).all()
        for row in rows:
            session.expunge(row)
        return rows


def test_a_young_child_gets_full_parent_access_and_no_patient_invitation(session, clinic):
    at = open_register(clinic, patient_aged(session, clinic, 8))
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Parent access: Full" in shown and "own account" not in shown


def test_adolescent_invitation_needs_assent_then_shows_the_pin(session, clinic):
    patient = patient_aged(session, clinic, 14)
    at = open_register(clinic, patient)
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Parent access: Limited" in shown and "not confidential notes" in shown
    assert at.button(key=f"register_{patient.id}_submit")  # the parent form is still there

    at.text_input(key=prefix(patient) + "email").input("maya@example.com")
    at.button(key=prefix(patient) + "submit").click().run()
    assert any(ASSENT in str(error.value) for error in at.error)
    assert own_enrollments() == []

    at.checkbox(key=prefix(patient) + "assent").check()
    at.button(key=prefix(patient) + "submit").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "invited to their own portal account (Adolescent)" in shown
    pin = next(line for line in shown.splitlines() if line.startswith("### PIN:")).split("`")[1]
    [row] = own_enrollments()
    assert verify_secret(normalize_pin(pin), row.secret_hash)
    assert row.assent_by_id == clinic["staff"].id and row.assent_at is not None
    assert row.email == "maya@example.com"
    [download] = at.get("download_button")
    download.click().run()
    with session_scope(read_only=True) as check:
        assert check.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "letter_downloaded")).one() == 1
    at.button(key="patient_invitation_done_button").click().run()
    shown = texts(at)
    assert pin not in shown and "Invited" in shown  # the own invitation's badge


def test_a_bad_email_is_named_and_nothing_is_written(session, clinic):
    patient = patient_aged(session, clinic, 15)
    at = open_register(clinic, patient)
    at.text_input(key=prefix(patient) + "email").input("maya@")
    at.checkbox(key=prefix(patient) + "assent").check()
    at.button(key=prefix(patient) + "submit").click().run()
    assert any(EMAIL in str(error.value) for error in at.error)
    assert own_enrollments() == []


def test_at_the_minor_age_limit_the_young_adult_is_invited_in_their_own_name(session, clinic):
    patient = patient_aged(session, clinic, 18)
    at = open_register(clinic, patient)
    assert not at.exception, at.exception
    shown = texts(at)
    assert "a parent can no longer be invited" in shown
    assert not [button for button in at.button if button.key == f"register_{patient.id}_submit"]
    assert not [box for box in at.checkbox if box.key == prefix(patient) + "assent"]
    at.text_input(key=prefix(patient) + "email").input("maya@example.com")
    at.button(key=prefix(patient) + "submit").click().run()
    assert "invited to their own portal account (Young adult)" in texts(at)
    [row] = own_enrollments()
    assert row.access_level == "Young adult" and row.assent_at is None


# --- the activation page ---------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "button", "words"), [
    (None, "Activate account", "This is a limited account"),
    ("es", "Activar cuenta", "Esta es una cuenta limitada"),
])
def test_activation_page_says_what_a_limited_account_sees(session, lang, button, words):
    practice = make_practice(session, name="Sunny Peds")
    make_user(session, practices=[practice])  # past first-run setup
    patient = make_patient(session, practice, first_name="Mateo", date_of_birth=born(13))
    pin = generate_pin()
    enrollment = make_enrollment(session, practice, patient=patient, pin=pin,
                                 access_level="Limited")
    session.commit()
    at = app_test()
    at.query_params["practice"] = str(practice.id)
    at.query_params["token"] = enrollment.link_token
    if lang:
        at.query_params["lang"] = lang
    at.switch_page("pages/activate.py")
    at.run()
    at.text_input(key="pin").input(format_pin(pin))
    at.date_input(key="date_of_birth").set_value(patient.date_of_birth)
    at.text_input(key="email").input("ana@example.com")
    for name in ("password", "repeat_password"):
        at.text_input(key=name).input("tulip orchard sunrise 42")
    next(b for b in at.button if b.label == button).click().run()
    assert not at.exception, at.exception
    assert words in " ".join(texts(at).split())


def test_the_patients_own_link_asks_for_their_own_date_of_birth(session):
    practice = make_practice(session, name="Sunny Peds")
    make_user(session, practices=[practice])
    patient = make_patient(session, practice, date_of_birth=born(15))
    enrollment = make_enrollment(session, practice, patient=patient, pin=generate_pin(),
                                 recipient=EnrollmentRecipient.patient,
                                 access_level="Adolescent")
    session.commit()
    at = app_test()
    at.query_params["practice"] = str(practice.id)
    at.query_params["token"] = enrollment.link_token
    at.switch_page("pages/activate.py")
    at.run()
    assert at.date_input(key="date_of_birth").label == "Your date of birth"


def test_the_language_choice_starts_at_the_familys_and_goes_on_the_invitation(session, clinic):
    patient = make_patient(session, clinic["practice"], first_name="Maya", last_name="Ortiz",
                           date_of_birth=born(16))
    make_guardian(session, clinic["practice"], patients=[patient], email="ana@example.com",
                  preferred_language="es")
    session.commit()
    at = open_register(clinic, patient)
    assert not at.exception, at.exception
    choice = at.selectbox(key=prefix(patient) + "language")
    assert choice.label == "Language" and choice.value == "es"
    assert choice.options == ["English", "Español"]
    at.text_input(key=prefix(patient) + "email").input("maya@example.com")
    at.checkbox(key=prefix(patient) + "assent").check()
    at.button(key=prefix(patient) + "submit").click().run()
    assert not at.exception, at.exception
    [row] = own_enrollments()
    assert row.language == "es"

    at.button(key="patient_invitation_done_button").click().run()  # invited again, in English
    at.selectbox(key=prefix(patient) + "language").set_value("en")
    at.text_input(key=prefix(patient) + "email").input("maya@example.com")
    at.checkbox(key=prefix(patient) + "assent").check()
    at.button(key=prefix(patient) + "submit").click().run()
    assert not at.exception, at.exception
    assert sorted(row.language for row in own_enrollments()) == ["en", "es"]
