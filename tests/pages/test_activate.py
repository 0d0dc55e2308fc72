"""Activate Portal Account: the public page, signed out or in, each refusal and a success."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from models import Enrollment, EnrollmentStatus, Patient, Role
from services.db import session_scope
from services.pins import format_pin, generate_pin
from services.settings import get_settings
from services.status import PortalStatus, derive_status
from tests.factories import (
    make_appointment,
    make_enrollment,
    make_patient,
    make_practice,
    make_user,
)
from tests.pages.helpers import app_test, open_session, signed_in, texts

PAGE = "pages/activate.py"
PASSWORD = "tulip orchard sunrise 42"
DOB = dt.date(2017, 8, 30)
GENERIC = "That PIN and date of birth do not match our records."


@pytest.fixture
def practice(session):
    practice = make_practice(session, name="Sunny Peds", phone="(617) 555-0100")
    make_user(session, role=Role.staff, practices=[practice], username="frontdesk")
    session.commit()
    return practice


def new_enrollment(session, practice, *, dob=DOB, **fields):
    """An invited PIN enrollment for a new patient; returns (enrollment, pin)."""
    pin = generate_pin()
    patient = make_patient(session, practice, first_name="Emma", date_of_birth=dob)
    enrollment = make_enrollment(session, practice, patient=patient, pin=pin, **fields)
    session.commit()
    return enrollment, pin


def open_link(practice_id=None, token=None, at=None):
    """The page as the email's link or the letter's QR code opens it (signed out by default)."""
    at = at or app_test()
    if practice_id is not None:
        at.query_params["practice"] = str(practice_id)
    if token is not None:
        at.query_params["token"] = token
    at.switch_page(PAGE)
    return at.run()


def submit(at, *, pin=None, dob=DOB, email="parent@example.com", password=PASSWORD,
           repeat=None, answer=None):
    if answer is not None:
        at.text_input(key="answer").input(answer)
    else:
        at.text_input(key="pin").input(pin)
    at.date_input(key="date_of_birth").set_value(dob)
    at.text_input(key="email").input(email)
    at.text_input(key="password").input(password)
    if "repeat_password" in [w.key for w in at.text_input]:
        at.text_input(key="repeat_password").input(PASSWORD if repeat is None else repeat)
    button = next(b for b in at.button
                  if b.label in ("Activate account", "Add this child to my account"))
    return button.click().run()


def live_status(enrollment) -> PortalStatus:
    with session_scope(read_only=True) as session:
        stored = session.exec(select(Enrollment).where(Enrollment.id == enrollment.id)).one()
        return derive_status(stored.status, stored.expires_at, now=dt.datetime.now(dt.UTC))


def test_without_a_link_the_page_says_where_to_find_one(practice):
    at = open_link()
    assert not at.exception
    assert "open the link in the welcome email" in texts(at)
    assert not at.text_input  # no form to guess at


def test_unknown_link_says_what_to_do(practice):
    at = open_link(practice.id, "not-a-real-token")
    assert not at.exception
    assert "We could not find this activation link" in texts(at)
    assert "call the practice" in texts(at)
    assert not at.text_input


def test_form_asks_for_pin_and_date_of_birth_without_patient_details(session, practice):
    enrollment, _ = new_enrollment(session, practice)
    at = open_link(practice.id, enrollment.link_token)
    assert not at.exception
    assert [w.label for w in at.text_input] == [
        "PIN", "Email address", "Password", "Repeat password"]
    picker = at.date_input(key="date_of_birth")
    assert picker.label == "Child's date of birth" and picker.value is None
    assert "Sunny Peds" in texts(at)
    assert "Emma" not in texts(at)


def dashboard_badge(practice, mrn: str) -> str:
    """The patient's Portal status badge on the Dashboard, as the front desk sees it."""
    at = open_session(app_test(), "frontdesk")
    at.session_state["practice_id"] = practice.id
    at.run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    (badges,) = table[table["MRN"] == mrn]["Portal status"]
    return list(badges)[0]


def test_success_shows_what_happens_next_and_turns_status_active(session, practice):
    enrollment, pin = new_enrollment(session, practice)
    patient = session.get(Patient, enrollment.patient_id)
    make_appointment(session, practice, patient=patient)  # on today's schedule
    session.commit()
    assert live_status(enrollment) == PortalStatus.invited
    assert dashboard_badge(practice, patient.mrn) == PortalStatus.invited

    at = submit(open_link(practice.id, enrollment.link_token), pin=format_pin(pin).lower())
    assert not at.exception
    assert "What happens next" in texts(at)
    assert "patient portal" in texts(at)
    assert not at.text_input  # the form is gone
    assert live_status(enrollment) == PortalStatus.active
    assert dashboard_badge(practice, patient.mrn) == PortalStatus.active


def test_wrong_pin_and_wrong_date_of_birth_show_one_message(session, practice):
    enrollment, pin = new_enrollment(session, practice)
    at = submit(open_link(practice.id, enrollment.link_token), pin=generate_pin())
    assert GENERIC in texts(at)
    at = submit(at, pin=pin, dob=DOB - dt.timedelta(days=1))
    assert GENERIC in texts(at)
    assert live_status(enrollment) == PortalStatus.invited


def test_fifth_wrong_try_locks_and_says_to_call(session, practice):
    enrollment, pin = new_enrollment(session, practice)
    patient = session.get(Patient, enrollment.patient_id)
    make_appointment(session, practice, patient=patient)
    session.commit()
    assert dashboard_badge(practice, patient.mrn) == PortalStatus.invited
    at = open_link(practice.id, enrollment.link_token)
    for _ in range(5):
        at = submit(at, pin=generate_pin())
    assert "locked after too many wrong tries" in texts(at)
    assert "(617) 555-0100" in texts(at)
    assert live_status(enrollment) == PortalStatus.locked
    assert dashboard_badge(practice, patient.mrn) == PortalStatus.locked  # staff see it now
    # Reopening the link shows the lock straight away, without a form.
    at = open_link(practice.id, enrollment.link_token)
    assert "locked after too many wrong tries" in texts(at) and not at.text_input


@pytest.mark.parametrize(("fields", "message"), [
    ({"status": EnrollmentStatus.locked, "attempts": 5}, "locked after too many wrong tries"),
    ({"expires_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
      "issued_at": dt.datetime(2019, 12, 20, tzinfo=dt.UTC)}, "This PIN has expired"),
    ({"status": EnrollmentStatus.voided}, "replaced by a newer one"),
    ({"status": EnrollmentStatus.active, "secret_hash": None}, "already been used"),
    ({"status": EnrollmentStatus.declined}, "declined at the practice"),
], ids=["locked", "expired", "voided", "used", "declined"])
def test_a_link_that_cannot_be_used_says_why_and_what_to_do(session, practice, fields, message):
    enrollment, _ = new_enrollment(session, practice, **fields)
    at = open_link(practice.id, enrollment.link_token)
    assert not at.exception
    assert message in texts(at)
    assert "Sunny Peds" in texts(at)  # whom to ask
    assert not at.text_input


def test_link_expiring_while_the_form_is_open_is_refused_on_submit(session, practice):
    enrollment, pin = new_enrollment(session, practice)
    at = open_link(practice.id, enrollment.link_token)
    with session_scope() as s:
        stored = s.get(Enrollment, enrollment.id)
        stored.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        s.add(stored)
    at = submit(at, pin=pin)
    assert "This PIN has expired" in texts(at)


def test_throttled_client_is_told_to_wait(monkeypatch, session, practice):
    monkeypatch.setenv("PORTAL_ACTIVATION_CLIENT_LIMIT", "2")
    get_settings.cache_clear()
    first, _ = new_enrollment(session, practice)
    second, second_pin = new_enrollment(session, practice)
    at = open_link(practice.id, first.link_token)
    at = submit(at, pin=generate_pin())
    at = submit(at, pin=generate_pin())
    # The same browser moves on to another child's link: still slowed down.
    at = open_link(practice.id, second.link_token, at=at)
    at = submit(at, pin=second_pin)
    assert "Too many tries from this device. Please wait 15 minutes" in texts(at)
    assert live_status(second) == PortalStatus.invited


def test_child_past_the_age_limit_is_refused_with_the_reason(session, practice):
    enrollment, pin = new_enrollment(session, practice, dob=dt.date(2001, 1, 1))
    at = open_link(practice.id, enrollment.link_token)
    at = submit(at, pin=pin, dob=dt.date(2001, 1, 1))
    assert "portal access ends when a child turns 18" in texts(at)
    assert live_status(enrollment) == PortalStatus.invited


def test_bad_password_names_the_field(session, practice):
    enrollment, pin = new_enrollment(session, practice)
    at = submit(open_link(practice.id, enrollment.link_token), pin=pin,
                password="too short", repeat="too short")
    assert "Password is too short: use at least 12 characters." in texts(at)
    at = submit(at, pin=pin, repeat="something else entirely")
    assert "Repeat password does not match" in texts(at)
    assert live_status(enrollment) == PortalStatus.invited


def test_sibling_is_added_through_i_already_have_an_account(session, practice):
    first, first_pin = new_enrollment(session, practice)
    second, second_pin = new_enrollment(session, practice, dob=dt.date(2020, 2, 2))
    submit(open_link(practice.id, first.link_token), pin=first_pin)

    at = open_link(practice.id, second.link_token)
    at = submit(at, pin=second_pin, dob=dt.date(2020, 2, 2))
    assert "already exists" in texts(at) and "I already have an account" in texts(at)

    at.checkbox(key="existing_account").check().run()
    assert "repeat_password" not in [w.key for w in at.text_input]
    at = submit(at, pin=second_pin, dob=dt.date(2020, 2, 2))
    assert not at.exception
    assert "is now linked to the portal account" in texts(at)
    assert live_status(second) == PortalStatus.active


def test_verification_question_is_shown_and_answered(session, practice):
    patient = make_patient(session, practice, date_of_birth=DOB)
    enrollment = make_enrollment(session, practice, patient=patient, answer="Biscuit",
                                 verification_question="Name of your first dog?")
    session.commit()
    at = open_link(practice.id, enrollment.link_token)
    assert "Name of your first dog?" in texts(at)
    assert [w.label for w in at.date_input] == ["Child's date of birth"]
    assert "PIN" not in texts(at)
    at = submit(at, answer="biscuit")
    assert "What happens next" in texts(at)
    assert "PIN" not in texts(at)  # a question-based activation never had a PIN
    assert live_status(enrollment) == PortalStatus.active


@pytest.mark.parametrize(("fields", "said", "not_said"), [
    ({"send_pin": True, "send_text": False}, "PIN from your welcome email", "letter"),
    ({"send_pin": True, "send_text": True}, "PIN from the text message", "letter"),
    ({"send_pin": False, "send_text": False}, "PIN printed on the letter", "email"),
])
def test_the_page_says_where_the_pin_came_from_as_it_was_sent(session, practice, fields, said,
                                                               not_said):
    enrollment, _ = new_enrollment(session, practice, **fields)
    at = open_link(practice.id, enrollment.link_token)
    intro = next(text for text in texts(at).split("\n") if "Enter the PIN" in text)
    assert said in intro and not_said not in intro


@pytest.mark.parametrize("status", ["locked", "expired", "active"])
def test_a_refused_question_link_never_speaks_of_a_pin_it_never_had(session, practice, status):
    import datetime as dt

    fields = {"status": "locked" if status == "locked" else
              "active" if status == "active" else "invited"}
    if status == "expired":
        fields["expires_at"] = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    enrollment = make_enrollment(session, practice, answer="Biscuit", **fields)
    session.commit()
    at = open_link(practice.id, enrollment.link_token)
    refusal = " ".join(str(error.value) for error in at.error)
    assert refusal and "This PIN" not in refusal and "This link" in refusal


def test_signed_in_staff_can_open_the_page_too(session, practice):
    enrollment, _ = new_enrollment(session, practice)
    at = signed_in("frontdesk", practice_id=practice.id)
    at = open_link(practice.id, enrollment.link_token, at=at)
    assert not at.exception
    assert "You do not have access" not in texts(at)
    assert at.text_input(key="pin").label == "PIN"


def test_after_activation_the_parent_gets_the_portal_sign_in_address_as_a_link(session,
                                                                                practice):
    practice.portal_sign_in_url = "https://mychart.sunnypeds.example/login"
    session.add(practice)
    enrollment, pin = new_enrollment(session, practice)
    at = submit(open_link(practice.id, enrollment.link_token), pin=pin)
    assert "What happens next" in texts(at)
    shown = texts(at)
    assert "patient portal at [" in shown
    assert "](https://mychart.sunnypeds.example/login) with" in shown
