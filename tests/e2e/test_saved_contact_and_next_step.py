"""Issue 16, items 1 and 3, in Chromium: the contact the front desk types is kept (a new PIN
after a lock goes to the new address, the Dashboard shows it), and the parent is not left at a
dead end (the sign-in address as a link after activation; the PIN's source named as it was
sent; a verification question never speaks of a PIN). Mail is received by aiosmtpd."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from models import Role
from services.auth import create_user
from services.pins import format_pin, generate_pin
from tests.e2e import support
from tests.e2e.support import (
    click_button,
    expect_signed_in,
    fill,
    grid_column,
    main_area,
    open_app,
    open_in_new_tab,
    rerun,
    sign_in,
    type_date,
)
from tests.factories import (
    make_appointment,
    make_guardian,
    make_location,
    make_patient,
    make_practice,
    make_provider,
)

pytestmark = pytest.mark.e2e

TIMEZONE = "America/New_York"
ADMIN = ("ada.admin", "Ada Admin", "admin-pass-Osprey-27")
PUBLIC = "https://portal.sunnypeds.example"
SIGN_IN = "https://mychart.sunnypeds.example/sign-in"
OLD_EMAIL, NEW_EMAIL = "rosa.old@example.com", "rosa.new@example.com"
NOAH_EMAIL, LENA_EMAIL = "omar.okafor@example.com", "june.park@example.com"
PARENT_PASSWORD = "parent-pass-Otter-75"
BIRTH = dt.date(2018, 5, 17)
PIN_PATTERN = r"\b[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}\b"
ANSWER = "Lincoln Elementary"
SEEDED: dict[str, int] = {}
SEEN: dict[str, str] = {}  # PINs and links the scenarios saw, for the server-log check


def _today_at(hour: int) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(TIMEZONE)
    today = dt.datetime.now(zone).date()
    return dt.datetime.combine(today, dt.time(hour), zone).astimezone(dt.UTC)


@pytest.fixture(scope="module")
def portal_seed():
    def fill_rows(session):
        practice = make_practice(session, name="Sunny Peds", timezone=TIMEZONE,
                                 phone="(617) 555-0100", portal_url=PUBLIC,
                                 portal_sign_in_url=SIGN_IN)
        create_user(session, username=ADMIN[0], name=ADMIN[1], email="ada@example.org",
                    role=Role.admin, password=ADMIN[2], actor="e2e",
                    practice_names=["Sunny Peds"])
        provider = make_provider(session, practice, name="Dr. Ada Lee")
        location = make_location(session, practice, name="Main Street")
        families = [("mia", "Mia", "Rivera", "Rosa", OLD_EMAIL, 9),
                    ("noah", "Noah", "Okafor", "Omar", NOAH_EMAIL, 10),
                    ("lena", "Lena", "Park", "June", LENA_EMAIL, 11)]
        for key, first, last, parent, email, hour in families:
            child = make_patient(session, practice, first_name=first, last_name=last,
                                 date_of_birth=BIRTH)
            make_guardian(session, practice, patients=[child], first_name=parent,
                          last_name=last, relationship="Parent", email=email)
            SEEDED[key] = make_appointment(session, practice, patient=child, provider=provider,
                                           location=location, start_at=_today_at(hour)).id
        SEEDED["practice"] = practice.id

    return fill_rows


# --- helpers ----------------------------------------------------------------------------------

def _signed_in(page) -> None:
    open_app(page)
    sign_in(page, ADMIN[0], ADMIN[2])
    expect_signed_in(page, ADMIN[1])


def _open_register(page, key: str):
    """Register Patient by its URL (not the Dashboard's link, whose behaviour may change), in
    a new tab; returns that tab."""
    page = open_in_new_tab(
        page, f"/register?appointment={SEEDED[key]}&practice={SEEDED['practice']}")
    expect(main_area(page).get_by_text("Register Patient with")).to_be_visible()
    return page


def _type(page, label: str, value: str) -> None:
    """Type into a text input outside a form and leave it: the value is applied by a rerun."""
    field = main_area(page).get_by_label(label, exact=True)
    with rerun(page):
        field.fill(value)
        field.press("Tab")


def _complete(page, button: str = "Complete Registration") -> str:
    """Press the registration button; the confirmation's text."""
    main = main_area(page)
    click_button(page, button, scope=main)
    expect(main.get_by_text("Registration complete for")).to_be_visible()
    expect(main.get_by_text("Welcome email: Sent.")).to_be_visible()
    return main.inner_text()


def _body(message) -> str:
    return message.get_body(("plain",)).get_content()


def _mail_to(smtp, address: str, *, containing: str = ""):
    return smtp.wait_for(lambda m: m["To"] == address and containing in _body(m))


def _activation_path(body: str) -> str:
    link = re.search(r"https?://\S+/activate\?\S+", body).group(0)
    assert link.startswith(f"{PUBLIC}/activate?"), link
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def _fill_activation(parent, *, pin: str | None = None, answer: str | None = None,
                     email: str) -> None:
    form = main_area(parent).get_by_test_id("stForm")
    if pin is not None:
        fill(parent, "PIN", pin, scope=form)
    if answer is not None:
        fill(parent, "Answer", answer, scope=form)
    type_date(parent, "Child's date of birth", BIRTH, scope=form)
    fill(parent, "Email address", email, scope=form)
    fill(parent, "Password", PARENT_PASSWORD, scope=form)
    fill(parent, "Repeat password", PARENT_PASSWORD, scope=form)
    click_button(parent, "Activate account", scope=form)


def _instruction(parent) -> str:
    """The sentence above the PIN field that says where the PIN came from."""
    return main_area(parent).get_by_text("Enter the PIN").inner_text()


def _expect_next_step(parent, email: str) -> None:
    main = main_area(parent)
    expect(main.get_by_test_id("stAlertContentSuccess")).to_be_visible()
    expect(main.get_by_text("What happens next")).to_be_visible()
    link = main.get_by_role("link", name=SIGN_IN, exact=True)
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", SIGN_IN)
    expect(main.get_by_text("Sign in to the Sunny Peds patient portal at")).to_contain_text(
        email)


# --- item 1 and item 3 (PIN by email) ---------------------------------------------------------

def test_new_email_is_kept_a_new_pin_after_a_lock_goes_there_and_the_parent_signs_in(
        page, new_context, smtp):
    _signed_in(page)
    page = _open_register(page, "mia")
    main = main_area(page)
    expect(main.get_by_label("Email Address", exact=True)).to_have_value(OLD_EMAIL)
    _type(page, "Email Address", NEW_EMAIL)
    text = _complete(page)
    assert NEW_EMAIL in text
    first_pin = re.search(PIN_PATTERN, text).group(0)
    SEEN["first PIN"] = first_pin
    support.screenshot(page, "register-complete")
    welcome = _mail_to(smtp, NEW_EMAIL, containing=first_pin)

    # The parent's phone: five wrong PINs lock it.
    parent = new_context().new_page()
    first_link = _activation_path(_body(welcome))
    open_app(parent, first_link)
    assert _instruction(parent) == "Enter the PIN from your welcome email, and your child's " \
                                   "date of birth."
    wrong = [pin for pin in (generate_pin() for _ in range(10)) if pin != first_pin][:5]
    for pin in wrong:
        _fill_activation(parent, pin=format_pin(pin), email=NEW_EMAIL)
        expect(main_area(parent).get_by_test_id("stAlert").first).to_be_visible()
    open_app(parent, first_link)
    expect(main_area(parent).get_by_text("This PIN is locked after too many wrong tries")
           ).to_be_visible()

    # Back at the desk: Issue New PIN offers the address the parent gave and mails it there.
    page = _open_register(page, "mia")
    main = main_area(page)
    expect(main.get_by_role("heading", name="Issue new PIN")).to_be_visible()
    expect(main.get_by_label("Email Address", exact=True)).to_have_value(NEW_EMAIL)
    text = _complete(page, "Issue New PIN")
    new_pin = re.search(PIN_PATTERN, text).group(0)
    SEEN["new PIN"] = new_pin
    assert new_pin != first_pin
    again = _mail_to(smtp, NEW_EMAIL, containing=new_pin)
    assert not [m for m in smtp.messages if m["To"] == OLD_EMAIL], "mail went to the old address"

    # The Dashboard's Guardian contact is the new address.
    page = open_in_new_tab(page, "/")
    contacts = grid_column(main_area(page), "Guardian contact")
    expect(contacts.first).to_contain_text(NEW_EMAIL)
    expect(contacts.first).not_to_contain_text(OLD_EMAIL)

    # The parent activates with the new PIN and is told where to sign in, as a link.
    open_app(parent, _activation_path(_body(again)))
    assert "welcome email" in _instruction(parent)
    _fill_activation(parent, pin=new_pin, email=NEW_EMAIL)
    _expect_next_step(parent, NEW_EMAIL)
    support.screenshot(parent, "activate-done")

    # The Audit Log keeps the previous contact, in words.
    page = open_in_new_tab(page, "/audit_log")
    audit = main_area(page)
    expect(audit.get_by_role("heading", name="Audit Log", exact=True)).to_be_visible()
    expect(audit.get_by_test_id("stDataFrame")).to_be_visible()
    support.screenshot(page, "audit-log")
    audit.get_by_label("Action", exact=True).click()
    page.get_by_role("option", name="Guardian contact updated", exact=True).click()
    click_button(page, "Apply", scope=audit)
    expect(grid_column(audit, "Action")).to_have_text(["Guardian contact updated"])
    details = grid_column(audit, "Details")
    expect(details).to_contain_text(OLD_EMAIL)
    expect(details).to_contain_text(NEW_EMAIL)


# --- item 3: a verification question; a PIN on the letter -------------------------------------

PIN_WORD = re.compile(r"\bPINs?\b", re.IGNORECASE)


def test_a_verification_question_activation_never_mentions_a_pin(page, new_context, smtp):
    _signed_in(page)
    page = _open_register(page, "noah")
    main = main_area(page)
    with rerun(page):
        main.get_by_text("Verification Question", exact=True).first.click()
    _type(page, "Question", "What is the name of your child's school?")
    _type(page, "Answer", ANSWER)
    _complete(page)
    path = _activation_path(_body(_mail_to(smtp, NOAH_EMAIL)))

    parent = new_context().new_page()
    open_app(parent, path)
    parent_main = main_area(parent)
    expect(parent_main.get_by_label("Answer", exact=True)).to_be_visible()
    expect(parent_main.get_by_label("PIN", exact=True)).to_have_count(0)
    assert not PIN_WORD.search(parent_main.inner_text()), parent_main.inner_text()
    _fill_activation(parent, answer="lincoln elementary!", email=NOAH_EMAIL)
    _expect_next_step(parent, NOAH_EMAIL)
    assert not PIN_WORD.search(parent_main.inner_text()), parent_main.inner_text()


def test_a_pin_handed_over_on_the_letter_is_asked_for_as_the_letters(page, new_context, smtp):
    _signed_in(page)
    page = _open_register(page, "lena")
    main = main_area(page)
    with rerun(page):
        main.get_by_text("Do not send PIN", exact=True).click()
    text = _complete(page)
    SEEN["letter PIN"] = re.search(PIN_PATTERN, text).group(0)
    welcome = _body(_mail_to(smtp, LENA_EMAIL))
    assert SEEN["letter PIN"] not in welcome  # the PIN went into no message

    parent = new_context().new_page()
    open_app(parent, _activation_path(welcome))
    instruction = _instruction(parent)
    assert instruction == ("Enter the PIN printed on the letter the practice gave you, and your "
                           "child's date of birth."), instruction
    assert "email" not in instruction and "text" not in instruction


def test_server_log_holds_no_pin_or_password(portal):
    support.assert_absent_from_log(portal, {**SEEN, "parent password": PARENT_PASSWORD,
                                            "admin password": ADMIN[2]})
