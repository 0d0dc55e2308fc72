"""Pages parents and staff open first, in Chromium: forms not stretched across a wide screen,
the activation page on a phone, and no serious or critical axe-core violation."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from playwright.sync_api import expect

from models import Role
from services.auth import create_user
from services.settings import get_settings
from tests.e2e import support
from tests.e2e.support import click_button, expect_signed_in, fill, main_area, open_app, sign_in
from tests.factories import (
    make_appointment,
    make_enrollment,
    make_guardian,
    make_patient,
    make_practice,
)

pytestmark = pytest.mark.e2e

ADMIN = ("ada.admin", "Ada Admin", "admin-pass-Osprey-27")
PIN = "7KQ4M-9TXR2"
BIRTH = dt.date(2019, 3, 14)
PHONE = {
    "viewport": {"width": 375, "height": 667},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 "
                  "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
}
DESK = {"viewport": {"width": 1366, "height": 768}}
SEEDED: dict[str, object] = {}


# The server and this process must hash PINs with the same pepper (issue 12's keyed hashes).
PEPPER = "e2e-public-pages-pepper-0123456789abcdefghijklmnop"


@pytest.fixture(scope="module")
def portal_env():
    return {"PORTAL_PIN_PEPPER": PEPPER}


@pytest.fixture(scope="module")
def portal_seed():
    def fill_rows(session):
        os.environ["PORTAL_PIN_PEPPER"] = PEPPER
        get_settings.cache_clear()
        try:
            _fill(session)
        finally:
            os.environ.pop("PORTAL_PIN_PEPPER", None)
            get_settings.cache_clear()

    def _fill(session):
        practice = make_practice(session, name="Sunny Peds", phone="(617) 555-0100",
                                 portal_url="https://portal.sunnypeds.example")
        create_user(session, username=ADMIN[0], name=ADMIN[1], email="ada@example.org",
                    role=Role.admin, password=ADMIN[2], actor="e2e",
                    practice_names=["Sunny Peds"])
        links = []
        for first in ("Mia", "Noah", "Lena"):
            child = make_patient(session, practice, first_name=first, last_name="Rivera",
                                 date_of_birth=BIRTH)
            parent = make_guardian(session, practice, patients=[child], first_name="Rosa",
                                   last_name="Rivera", email=f"rosa.{first.lower()}@example.com")
            links.append(make_enrollment(session, practice, patient=child, guardian=parent,
                                         pin=PIN).link_token)
        walk_in = make_patient(session, practice, first_name="Omar", last_name="Haddad")
        make_guardian(session, practice, patients=[walk_in], email="omar.parent@example.com")
        appointment = make_appointment(session, practice, patient=walk_in)
        SEEDED.update(practice=practice.id, links=links, appointment=appointment.id)

    return fill_rows


def _activation_path(number: int) -> str:
    return f"/activate?practice={SEEDED['practice']}&token={SEEDED['links'][number]}"


def _expect_narrow_form(page) -> None:
    """The form is at most 740 px wide (Streamlit eases the layout change in: wait for it)."""
    page.wait_for_function("""() => {
        const form = document.querySelector('[data-testid="stMain"] [data-testid="stForm"]');
        return form !== null && form.getBoundingClientRect().width <= 740;
    }""", polling=250)  # a timer, not animation frames (which a busy headless tab may skip)


# --- item 11: wide screens --------------------------------------------------------------------

def test_sign_in_and_activation_forms_are_not_stretched_on_a_wide_screen(new_context):
    page = new_context(**DESK).new_page()
    open_app(page, "/")
    _expect_narrow_form(page)
    title = main_area(page).locator("h1").first.bounding_box()
    assert title["y"] + title["height"] <= 190, title  # the title leaves the screen to the form
    sign_in(page, ADMIN[0], ADMIN[2])
    expect_signed_in(page, ADMIN[1])
    # Signed in, the staff pages are wide; the parent's form stays narrow.
    open_app(page, _activation_path(2))
    expect(main_area(page).get_by_label("PIN", exact=True)).to_be_visible()
    _expect_narrow_form(page)
    pin_field = main_area(page).get_by_label("PIN", exact=True).bounding_box()
    assert pin_field["y"] < 400, pin_field


# --- item 13: the parent's phone --------------------------------------------------------------

def _no_sideways_scroll(page) -> None:
    widths = page.evaluate("""() => [document.documentElement.scrollWidth,
        document.querySelector('[data-testid="stMain"]').scrollWidth, window.innerWidth]""")
    assert max(widths[:2]) <= widths[2], widths


def _inside_the_screen(locator) -> None:
    locator.scroll_into_view_if_needed()
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375, box


def test_activation_on_a_phone_fits_and_suits_the_keyboard(new_context):
    page = new_context(**PHONE).new_page()
    open_app(page, _activation_path(0))
    main = main_area(page)
    _no_sideways_scroll(page)
    for label in ("PIN", "Email address", "Password", "Repeat password"):
        _inside_the_screen(main.get_by_label(label, exact=True))
    date_of_birth = main.get_by_role("group", name="Child's date of birth", exact=True)
    _inside_the_screen(date_of_birth)
    for segment in date_of_birth.get_by_role("spinbutton").all():
        assert segment.get_attribute("inputmode") == "numeric"
    pin = main.get_by_label("PIN", exact=True)
    expect(pin).to_have_attribute("autocapitalize", "characters")
    expect(pin).to_have_attribute("autocorrect", "off")
    expect(pin).to_have_attribute("spellcheck", "false")
    email = main.get_by_label("Email address", exact=True)
    expect(email).to_have_attribute("autocapitalize", "none")
    expect(email).to_have_attribute("inputmode", "email")

    # A wrong date of birth: the message is on the screen, not beside it.
    fill(page, "PIN", PIN.lower().replace("-", " "), scope=main)
    support.type_date(page, "Child's date of birth", BIRTH.replace(year=2020), scope=main)
    fill(page, "Email address", "rosa.mia@example.com", scope=main)
    fill(page, "Password", "a-parent-password-1", scope=main)
    fill(page, "Repeat password", "a-parent-password-1", scope=main)
    click_button(page, "Activate account", scope=main)
    message = main.get_by_test_id("stAlert").first
    _inside_the_screen(message)
    _no_sideways_scroll(page)
    support.screenshot(page, "activate-phone-refused")

    support.type_date(page, "Child's date of birth", BIRTH, scope=main)
    fill(page, "Password", "a-parent-password-1", scope=main)
    fill(page, "Repeat password", "a-parent-password-1", scope=main)
    click_button(page, "Activate account", scope=main)
    expect(main.get_by_text("What happens next")).to_be_visible()
    _inside_the_screen(main.get_by_test_id("stAlert").first)
    _no_sideways_scroll(page)
    support.screenshot(page, "activate-phone-done")


def _phone_practice():
    from models.public import PracticePublic

    return PracticePublic(
        id=1, name="Sunny Peds Pediatrics of the Greater Springfield Area",
        timezone="America/New_York", portal_url="https://portal.sunnypeds.example.org",
        pin_lifetime_days=14, minor_age_limit=18, phone="(617) 555-0100",
        email="desk@example.org", address="100 Main Street, Springfield")


LONG_LINK = ("https://portal.sunnypeds.example.org/activate?practice=1&token="
             "Zx9kQ2mVb7LrT4pWc8NdY1fHs6JgA3uE0oKiRqXyBnMt5")


def _welcome_html():
    from services.messages import Invitation, build_welcome_email

    invitation = Invitation(
        practice=_phone_practice(), guardian_name="Rosa Rivera", patient_first_name="Mia",
        activation_url=LONG_LINK, expires_on=dt.date(2026, 12, 14), method="pin",
        pin_in_email=True)
    return build_welcome_email(invitation, recipient="rosa@example.com").body_html


def _family_html():
    from services.messages import FamilyChild, FamilyInvitation, build_family_welcome_email

    children = tuple(FamilyChild(name=f"{first} Rivera-Montenegro", first_name=first,
                                 activation_url=f"{LONG_LINK}{index}&lang=es")
                     for index, first in enumerate(("Mia", "Maximiliano", "Guadalupe")))
    family = FamilyInvitation(practice=_phone_practice(), guardian_name="Rosa Rivera",
                              children=children, expires_on=dt.date(2026, 12, 14),
                              language="es")
    return build_family_welcome_email(family, recipient="rosa@example.com").body_html


@pytest.mark.parametrize("build", [_welcome_html, _family_html], ids=["single", "family"])
def test_the_welcome_email_reads_well_on_a_phone(browser, build):
    html = build()
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        page.set_content(html)
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths == [375, 375], widths  # laid out for the phone's width, nothing wider
        size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 16, size  # phones zoom out of smaller text in mail apps
    finally:
        context.close()


# --- item 12: axe-core ------------------------------------------------------------------------

def test_no_serious_or_critical_axe_violations_on_the_parent_and_staff_forms(new_context):
    problems: list[str] = []
    phone = new_context(**PHONE).new_page()
    open_app(phone, _activation_path(1))
    problems += support.axe_violations(phone, "activation on a phone")
    main = main_area(phone)
    fill(phone, "PIN", "WRONG-PIN00", scope=main)
    support.type_date(phone, "Child's date of birth", BIRTH, scope=main)
    fill(phone, "Email address", "rosa.noah@example.com", scope=main)
    fill(phone, "Password", "a-parent-password-1", scope=main)
    fill(phone, "Repeat password", "a-parent-password-1", scope=main)
    click_button(phone, "Activate account", scope=main)
    expect(main.get_by_test_id("stAlert").first).to_be_visible()
    problems += support.axe_violations(phone, "activation refused")

    page = new_context(**DESK).new_page()
    open_app(page, "/")
    problems += support.axe_violations(page, "sign-in")
    sign_in(page, ADMIN[0], ADMIN[2])
    expect_signed_in(page, ADMIN[1])
    open_app(page, f"/register?appointment={SEEDED['appointment']}&practice={SEEDED['practice']}")
    expect(main_area(page).get_by_text("Register Patient with")).to_be_visible()
    problems += support.axe_violations(page, "Register form")
    click_button(page, "Complete Registration", scope=main_area(page))
    expect(main_area(page).get_by_text("Registration complete", exact=False)).to_be_visible()
    problems += support.axe_violations(page, "Register, after Complete Registration")
    assert not problems, "\n".join(problems)
