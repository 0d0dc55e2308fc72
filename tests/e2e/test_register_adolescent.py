"""An adolescent invited in Chromium: Register Patient shows the limited parent access, the desk
invites the patient themself with their assent, and the adolescent activates on the public page
with their own PIN and date of birth (the email's link)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from models import Role
from services.auth import create_user
from tests.e2e import support
from tests.e2e.support import (
    click_button,
    expect_signed_in,
    fill,
    main_area,
    open_app,
    sign_in,
    type_date,
)
from tests.factories import make_guardian, make_patient, make_practice

pytestmark = pytest.mark.e2e

PASSWORD = "staff-pass-Avocet-58"
OWN_PASSWORD = "maple-river-Lantern-93"
TODAY = dt.date.today()
BIRTH = TODAY.replace(year=TODAY.year - 14, day=1) - dt.timedelta(days=90)
PIN = re.compile(r"\b[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}\b")
SEEDED: dict[str, int] = {}


@pytest.fixture(scope="module")
def portal_seed():
    def fill_rows(session):
        practice = make_practice(session, name="Teen Peds", phone="(555) 010-3000")
        create_user(session, username="tess.staff", name="Tess Staff", email="tess@example.org",
                    role=Role.staff, password=PASSWORD, actor="e2e",
                    practice_names=["Teen Peds"])
        maya = make_patient(session, practice, first_name="Maya", last_name="Ortiz",
                            date_of_birth=BIRTH)
        make_guardian(session, practice, patients=[maya], first_name="Ana", last_name="Ortiz",
                      email="ana@example.com")
        SEEDED.update(practice=practice.id, maya=maya.id)

    return fill_rows


def test_invite_an_adolescent_and_they_activate_with_their_own_pin(page, portal, smtp):
    open_app(page, "/")
    sign_in(page, "tess.staff", PASSWORD)
    expect_signed_in(page, "Tess Staff")
    open_app(page, f"/register?patient={SEEDED['maya']}&practice={SEEDED['practice']}")
    expect_signed_in(page, "Tess Staff")
    support.wait_for_app_run(page)
    main = main_area(page)
    expect(main.get_by_text("Parent access: Limited")).to_be_visible()
    fill(page, "Patient's email address", "maya@example.com", scope=main)
    with support.rerun(page):
        main.get_by_test_id("stCheckbox").filter(
            has_text="The patient agrees to have their own portal account").click()
    support.screenshot(page, "register-adolescent")
    click_button(page, "Invite the patient", scope=main)
    expect(main.get_by_text("Maya Ortiz is invited to their own portal account "
                            "(Adolescent).")).to_be_visible()
    pin = PIN.search(main.inner_text()).group(0)

    message = smtp.wait_for(lambda mail: mail["To"] == "maya@example.com")
    body = message.get_body(("plain",)).get_content()
    assert pin in body
    path = re.search(r"/activate\?practice=\d+&token=[\w-]+", body).group(0)

    open_app(page, path)
    main = main_area(page)
    form = main.get_by_test_id("stForm")
    fill(page, "PIN", pin, scope=form)
    type_date(page, "Your date of birth", BIRTH, scope=form)
    fill(page, "Email address", "maya@example.com", scope=form)
    fill(page, "Password", OWN_PASSWORD, scope=form)
    fill(page, "Repeat password", OWN_PASSWORD, scope=form)
    click_button(page, "Activate account", scope=form)
    expect(main.get_by_test_id("stAlertContentSuccess")).to_contain_text(
        "with access to your own records")
    support.assert_absent_from_log(portal, {"PIN": pin})
