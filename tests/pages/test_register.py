"""Register Patient in AppTest: both happy paths, each bad input, Print PIN after completion,
invited patients (resend, new PIN, decline), Active patients, search."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import streamlit as st
from sqlmodel import func, select

from models import AuditEvent, Enrollment, EnrollmentStatus, Guardian, OutboxMessage, Role
from services.db import session_scope
from services.delivery_failures import mark_delivery_failed
from services.pins import normalize_answer, normalize_pin, verify_secret
from services.status import BADGE_NAMES, PortalStatus
from tests.factories import (
    make_appointment,
    make_guardian,
    make_patient,
    make_practice,
    make_user,
)
from tests.pages.helpers import as_read, signed_in, texts

PAGE = "pages/register.py"


@pytest.fixture
def clinic(session):
    practice = make_practice(session, name="Sunny Peds", portal_url="https://portal.sunny.example")
    other = make_practice(session, name="Other Peds")
    staff = make_user(session, role=Role.staff, practices=[practice], username="frontdesk")
    patient = make_patient(session, practice, first_name="Zoë", last_name="Nguyễn",
                           mrn="MRN-1001", date_of_birth=dt.date(2019, 3, 4))
    guardian = make_guardian(session, practice, patients=[patient], first_name="Lan",
                             last_name="Nguyễn", email="lan@example.com",
                             cell_phone="+16175550123")
    appointment = make_appointment(session, practice, patient=patient)
    foreign = make_appointment(session, other)
    session.commit()
    return {"practice": practice, "staff": staff, "patient": patient, "guardian": guardian,
            "appointment": appointment, "foreign": foreign}


def open_register(clinic, *, appointment=None, patient=None, user="frontdesk", at=None):
    """Register Patient as the Dashboard's link opens it."""
    at = at or signed_in(user, practice_id=clinic["practice"].id)
    if appointment is not None:
        at.query_params["appointment"] = str(appointment)
    if patient is not None:
        at.query_params["patient"] = str(patient)
    at.switch_page(PAGE)
    return at.run()


def key(clinic, name: str) -> str:
    return f"register_{clinic['patient'].id}_{name}"


def email_box(at):
    return next(box for box in at.text_input if box.label == "Email Address")


def phone_box(at):
    return next(box for box in at.text_input if box.label == "Cell phone number")


def complete(at, clinic, label="Complete Registration"):
    return at.button(key=key(clinic, "submit")).click().run() if label else at


def field_errors(at) -> list[str]:
    """The error messages as a person reads them (plain()'s backslashes dropped)."""
    return [as_read(str(error.value)) for error in at.error]


def count(model, *where) -> int:
    with session_scope(read_only=True) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def written() -> dict[str, int]:
    return {model.__name__: count(model) for model in (Enrollment, OutboxMessage, Guardian)}


def the_enrollment() -> Enrollment:
    with session_scope(read_only=True) as session:
        enrollment = session.exec(
            select(Enrollment).where(Enrollment.status != EnrollmentStatus.voided)).one()
        session.expunge(enrollment)
        return enrollment


# --- what the page shows -------------------------------------------------------------------


def test_dashboard_link_shows_patient_appointment_status_and_the_seed_form(clinic):
    at = open_register(clinic, appointment=clinic["appointment"].id)
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Zoë Nguyễn" in shown
    assert "03/04/2019" in shown and "MRN" in shown
    assert "Appointment" in shown
    assert "Not registered" in shown
    assert at.radio(key=key(clinic, "method")).label == "Register Patient with"
    assert at.radio(key=key(clinic, "method")).options == ["PIN", "Verification Question"]
    assert at.radio(key=key(clinic, "method")).value == "PIN"
    assert email_box(at).value == "lan@example.com"  # prefilled from the guardian
    labels = [box.label for box in at.checkbox]
    assert "Text Message" in labels and "Do not send PIN" in labels
    assert at.button(key=key(clinic, "submit")).label == "Complete Registration"


@pytest.mark.parametrize("where", ["missing", "other practice", "garbled"])
def test_unknown_or_foreign_appointment_is_refused_clearly(clinic, where):
    appointment = {"missing": "999999", "other practice": clinic["foreign"].id,
                   "garbled": "12abc"}[where]
    at = open_register(clinic, appointment=appointment)
    assert not at.exception
    message = " ".join(field_errors(at))
    assert "Appointment" in message and str(appointment) in message
    assert "not found in Sunny Peds" in message or "not a valid appointment number" in message
    assert not [box for box in at.text_input if box.label == "Email Address"]
    assert at.text_input(key="register_search")  # staff can search for the patient instead
    assert written() == {"Enrollment": 0, "OutboxMessage": 0, "Guardian": 1}


def test_search_by_name_then_select(clinic):
    at = open_register(clinic)
    assert "search for the patient" in texts(at)
    at.text_input(key="register_search").input("nguy").run()
    assert "Zoë Nguyễn" in texts(at)
    at.button(key=f"register_pick_{clinic['patient'].id}").click().run()
    assert not at.exception
    assert email_box(at).value == "lan@example.com"


# --- happy paths ---------------------------------------------------------------------------


def test_pin_registration_shows_the_pin_once_and_offers_print_pin(clinic):
    at = open_register(clinic, appointment=clinic["appointment"].id)
    complete(at, clinic)
    assert not at.exception, at.exception

    shown = texts(at)
    assert "Registration complete for Zoë Nguyễn" in shown
    pin = next(line for line in shown.splitlines() if line.startswith("### PIN:"))
    pin = pin.split("`")[1]
    assert len(pin) == 11 and pin[5] == "-"
    enrollment = the_enrollment()
    assert verify_secret(normalize_pin(pin), enrollment.secret_hash)
    assert "welcome email to lan@example.com" in shown
    assert "no mail server is configured" in shown  # held: nothing to send with yet
    [download] = at.get("download_button")
    assert download.label == "Print PIN"
    assert count(OutboxMessage) == 1

    download.click().run()  # the callback audits the download
    assert count(AuditEvent, AuditEvent.action == "letter_downloaded") == 1
    at.button(key="register_done_button").click().run()
    assert pin not in texts(at)
    assert "_register_done" not in at.session_state


def test_verification_question_registration(clinic):
    at = open_register(clinic, appointment=clinic["appointment"].id)
    at.radio(key=key(clinic, "method")).set_value("Verification Question").run()
    at.text_input(key=key(clinic, "question")).input("Name of your first pet?")
    at.text_input(key=key(clinic, "answer")).input("Mister Whiskers")
    complete(at, clinic)
    assert not at.exception, at.exception

    assert "Registration complete" in texts(at)
    assert "verification question" in texts(at)
    enrollment = the_enrollment()
    assert enrollment.method == "question"
    assert enrollment.verification_question == "Name of your first pet?"
    assert verify_secret(normalize_answer("mister whiskers"), enrollment.secret_hash)
    assert not at.get("download_button")  # no PIN, so no Print PIN
    assert "Mister Whiskers" not in texts(at)


def test_text_message_with_carrier_and_do_not_send_pin(clinic):
    at = open_register(clinic, appointment=clinic["appointment"].id)
    at.checkbox(key=key(clinic, "text")).check().run()
    assert phone_box(at).value == "(617) 555-0123"  # prefilled from the guardian
    at.checkbox(key=key(clinic, "text_consent")).check()
    at.selectbox(key=key(clinic, "carrier")).set_value("uscellular")
    at.checkbox(key=key(clinic, "no_pin")).check()
    complete(at, clinic)
    assert not at.exception, at.exception

    assert "sent in no message" in texts(at)
    enrollment = the_enrollment()
    assert enrollment.send_text and enrollment.cell_carrier == "uscellular"
    assert enrollment.text_consent_at is not None
    assert enrollment.send_pin is False
    assert count(OutboxMessage) == 2


def test_a_new_guardian_can_be_added(clinic):
    at = open_register(clinic, appointment=clinic["appointment"].id)
    at.selectbox(key=key(clinic, "guardian")).set_value(-1).run()
    at.text_input(key=key(clinic, "new_first")).input("Łukasz")
    email_box(at).input("lukasz@example.com")
    complete(at, clinic)
    assert not at.exception, at.exception
    assert "Registration complete" in texts(at)
    assert count(Guardian) == 2


# --- bad input: a message at the field, nothing written --------------------------------------


def fill_bad(at, clinic, case):
    if case == "invalid email":
        email_box(at).input("lan@@example")
    elif case in ("invalid phone", "text without carrier", "closed carrier"):
        at.checkbox(key=key(clinic, "text")).check().run()
        at.checkbox(key=key(clinic, "text_consent")).check()
        if case == "invalid phone":
            phone_box(at).input("555-12")
            at.selectbox(key=key(clinic, "carrier")).set_value("uscellular")
        if case == "closed carrier":
            at.selectbox(key=key(clinic, "carrier")).set_value("att").run()
            assert "June 2025" in " ".join(str(w.value) for w in at.warning)
    elif case in ("question without question", "question without answer"):
        at.radio(key=key(clinic, "method")).set_value("Verification Question").run()
        if case == "question without question":
            at.text_input(key=key(clinic, "answer")).input("Rex")
        else:
            at.text_input(key=key(clinic, "question")).input("First pet?")


@pytest.mark.parametrize(("case", "words"), [
    ("invalid email", "Email Address is not valid"),
    ("invalid phone", "Text Message “555-12” has too few digits"),
    ("text without carrier", "Cell Carrier is required with Text Message"),
    ("closed carrier", "AT&T closed its email-to-text gateway"),
    ("question without question", "Question is empty"),
    ("question without answer", "Answer is empty"),
])
def test_each_bad_input_gets_its_message_and_nothing_is_written(clinic, case, words):
    at = open_register(clinic, appointment=clinic["appointment"].id)
    before = written()
    fill_bad(at, clinic, case)
    complete(at, clinic)
    assert not at.exception, at.exception
    assert any(words in message for message in field_errors(at)), field_errors(at)
    assert "Registration complete" not in texts(at)
    assert written() == before
    assert count(AuditEvent) == 0


def test_double_submit_from_two_desks_registers_once_with_a_clear_message(clinic):
    first = open_register(clinic, appointment=clinic["appointment"].id)
    second = open_register(clinic, appointment=clinic["appointment"].id)  # same form, 2nd tab
    complete(first, clinic)
    assert "Registration complete" in texts(first)
    complete(second, clinic)
    assert not second.exception
    assert any("already registered" in message for message in field_errors(second))
    assert "Registration complete" not in texts(second)
    assert count(Enrollment) == 1 and count(OutboxMessage) == 1


def test_pressing_complete_again_on_the_same_page_writes_nothing_more(clinic):
    at = open_register(clinic, appointment=clinic["appointment"].id)
    complete(at, clinic)
    # The confirmation replaced the form; a re-run (as a second click causes) shows it again.
    at.run()
    assert "Registration complete" in texts(at)
    assert count(Enrollment) == 1 and count(OutboxMessage) == 1


# --- invited and active patients -----------------------------------------------------------


def register_first(clinic):
    at = open_register(clinic, appointment=clinic["appointment"].id)
    complete(at, clinic)
    at.button(key="register_done_button").click().run()
    return at


def test_invited_patient_offers_resend_new_pin_and_decline(clinic):
    at = register_first(clinic)
    assert "Invited" in texts(at)
    assert at.button(key=key(clinic, "submit")).label == "Issue New PIN"

    at.button(key=key(clinic, "resend")).click().run()
    assert "Invitation resent" in texts(at)
    assert count(AuditEvent, AuditEvent.action == "invitation_resent") == 1

    old = the_enrollment()
    at.button(key=key(clinic, "submit")).click().run()
    assert not at.exception, at.exception
    assert "### PIN:" in texts(at)
    assert count(Enrollment, Enrollment.status == "voided") == 1
    assert the_enrollment().id != old.id


def test_a_failed_delivery_is_corrected_and_the_link_sent_again(clinic):
    at = register_first(clinic)
    enrollment = the_enrollment()
    with session_scope() as session:
        mark_delivery_failed(session, enrollment_id=enrollment.id,
                             practice_id=clinic["practice"].id, patient_id=enrollment.patient_id,
                             channel="email", recipient=enrollment.email,
                             error="550 5.1.1 mailbox unavailable")
    st.cache_data.clear()  # the page's reads are cached for a few seconds
    at = open_register(clinic, appointment=clinic["appointment"].id, at=at)
    assert "Delivery failed" in texts(at)
    box = f"register_{enrollment.patient_id}_corrected_email"
    at.text_input(key=box).input("lena.fixed@example.com")
    at.button(key=f"{box}_button").click().run()
    assert not at.exception, at.exception
    assert "Address corrected; the activation link was sent again." in texts(at)
    assert "Delivery failed" not in texts(at)
    fixed = the_enrollment()
    assert fixed.id == enrollment.id and fixed.email == "lena.fixed@example.com"
    assert fixed.delivery_failure is None


def test_decline_with_a_reason(clinic):
    at = register_first(clinic)
    at.button(key=key(clinic, "decline")).click().run()
    assert any("Reason is empty" in message for message in field_errors(at))
    assert the_enrollment().status == "invited"

    at.text_input(key=key(clinic, "reason")).input("Prefers paper records")
    at.button(key=key(clinic, "decline")).click().run()
    assert not at.exception
    assert "marked declined" in texts(at)
    enrollment = the_enrollment()
    assert enrollment.status == "declined" and enrollment.declined_reason == \
        "Prefers paper records"
    with session_scope(read_only=True) as session:
        detail = session.exec(select(AuditEvent.detail).where(
            AuditEvent.action == "declined")).one()
    assert json.loads(detail)["reason"] == "Prefers paper records"


def test_status_badge_and_history_use_the_shared_colours_and_action_words(clinic):
    at = register_first(clinic)
    at.text_input(key=key(clinic, "reason")).input("Prefers paper records")
    at.button(key=key(clinic, "decline")).click().run()
    at = open_register(clinic, appointment=clinic["appointment"].id)
    assert not at.exception, at.exception
    assert f":{BADGE_NAMES[PortalStatus.declined]}-badge[Declined]" in texts(at)
    [events] = [table.value for table in at.dataframe if "What" in table.value.columns]
    assert {"Registered", "PIN issued", "Declined"} <= set(events["What"])
    assert not [what for what in events["What"] if "_" in what]  # no codes on screen
    [history] = [table.value for table in at.dataframe if "Issued" in table.value.columns]
    moment = r"\d\d/\d\d/\d{4} \d\d:\d\d [AP]M"
    assert all(re.fullmatch(moment, value) for value in [*history["Issued"], *events["When"]])
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4}", value) for value in history["Expires"])


def test_active_patient_gets_no_new_registration(clinic):
    register_first(clinic)
    with session_scope() as session:
        session.get(Enrollment, the_enrollment().id).status = EnrollmentStatus.active
    st.cache_data.clear()  # as the parent's activation does (or the short ttl)
    at = open_register(clinic, appointment=clinic["appointment"].id)
    assert "already has portal access" in texts(at)
    assert not [button for button in at.button if button.label == "Complete Registration"]



def test_the_typed_email_is_kept_and_a_new_pin_after_a_lock_goes_to_it(clinic, monkeypatch):
    """Register with an address other than the file's, lock the PIN with wrong tries, Issue New
    PIN as prefilled: the new address receives both emails (a real SMTP server)."""
    from services.activation import activate_account
    from services.settings import get_settings
    from tests.smtp_server import smtp_server

    with smtp_server() as (inbox, port):
        monkeypatch.setenv("PORTAL_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("PORTAL_SMTP_PORT", str(port))
        monkeypatch.setenv("PORTAL_SMTP_SECURITY", "none")
        get_settings.cache_clear()
        at = open_register(clinic, appointment=clinic["appointment"].id)
        email_box(at).input("lan.nguyen@newmail.example")
        complete(at, clinic)
        assert not at.exception, at.exception
        first = the_enrollment()
        for _ in range(get_settings().activation_max_attempts):
            with session_scope() as session:
                activate_account(
                    session, practice_id=first.practice_id, link_token=first.link_token,
                    client_key="ip:203.0.113.9", email="lan.nguyen@newmail.example",
                    password="a-parent-password-1", repeat_password="a-parent-password-1",
                    pin="AAAAA-AAAAA", date_of_birth=dt.date(2019, 3, 4))
        assert the_enrollment().status == EnrollmentStatus.locked

        at = open_register(clinic, appointment=clinic["appointment"].id)
        assert email_box(at).value == "lan.nguyen@newmail.example"
        at.button(key=key(clinic, "submit")).click().run()
        assert not at.exception, at.exception
        assert "### PIN:" in texts(at)
        recipients = [to for _sender, tos, _message in inbox.received for to in tos]

    assert recipients == ["lan.nguyen@newmail.example", "lan.nguyen@newmail.example"]
    with session_scope(read_only=True) as session:
        guardian = session.get(Guardian, clinic["guardian"].id)
        assert guardian.email == "lan.nguyen@newmail.example"
        [detail] = session.exec(select(AuditEvent.detail).where(
            AuditEvent.action == "guardian_contact_updated")).all()
    assert "lan@example.com" in detail  # the previous address stays in the audit event
