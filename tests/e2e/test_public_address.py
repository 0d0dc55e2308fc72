"""Issue 16, item 2, in Chromium: first-run setup asks for the app's public address, prefilled
from the address the browser used; admins see a warning while a practice's address is a
loopback one; once Practice Settings saves the public address the warning is gone and the next
welcome email's activation link (received by aiosmtpd) uses it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from models import Practice
from services import db
from tests.e2e import support
from tests.e2e.support import (
    click_button,
    expect_signed_in,
    fill,
    main_area,
    open_app,
    open_in_new_tab,
    sign_in,
)
from tests.factories import make_appointment, make_guardian, make_patient

pytestmark = pytest.mark.e2e

ADMIN = {"Username": "olive.admin", "Full name": "Olive Admin", "Email": "olive@example.org"}
PASSWORD = "first-admin-Pangolin-61"
PUBLIC = "https://portal.sunnypeds.example"
PARENT_EMAIL = "rosa.rivera@example.com"
WARNING = "point to this server itself (localhost)"
SEEDED: dict[str, int] = {}


def _add_a_family(portal) -> None:
    """A patient with a guardian and an appointment today, in the practice setup created."""
    engine = db.get_engine(portal.database_url)
    try:
        with db.session_scope(engine=engine) as session:
            practice = session.exec(select(Practice).where(Practice.name == "Sunny Peds")).one()
            child = make_patient(session, practice, first_name="Mia", last_name="Rivera",
                                 date_of_birth=dt.date(2018, 5, 17))
            make_guardian(session, practice, patients=[child], first_name="Rosa",
                          last_name="Rivera", email=PARENT_EMAIL)
            SEEDED.update(practice=practice.id, appointment=make_appointment(
                session, practice, patient=child, start_at=dt.datetime.now(dt.UTC)).id)
    finally:
        db.dispose_engines()


def _warning(page):
    return page.get_by_test_id("stAlert").filter(has_text=WARNING)


def test_setup_prefills_the_address_the_browser_used(page, portal):
    open_app(page)
    main = main_area(page)
    expect(main.get_by_role("heading", name="Welcome to Practice Portal")).to_be_visible()
    address = main.get_by_label("Public address of this app", exact=True)
    expect(address).to_have_value(portal.url)  # http://127.0.0.1:<port>, as Chromium reached it

    fill(page, "Setup token", portal.wait_for_output(r"first-run setup token: (\S+)").group(1))
    for label, value in ADMIN.items():
        fill(page, label, value)
    fill(page, "Password", PASSWORD)
    fill(page, "Repeat password", PASSWORD)
    fill(page, "Practice name", "Sunny Peds")
    main.get_by_text("Load demo practice", exact=True).click()  # in the form: no rerun
    expect(main.get_by_role("checkbox", name="Load demo practice")).not_to_be_checked()
    click_button(page, "Create administrator")
    expect(main.get_by_text(f"Administrator {ADMIN['Username']} created")).to_be_visible()


def test_loopback_warning_until_practice_settings_saves_the_public_address(page, portal, smtp):
    _add_a_family(portal)
    open_app(page)
    sign_in(page, ADMIN["Username"], PASSWORD)
    expect_signed_in(page, ADMIN["Full name"])
    expect(_warning(page)).to_be_visible()
    expect(_warning(page)).to_contain_text("Sunny Peds")

    page = open_in_new_tab(page, "/practice_settings")
    main = main_area(page)
    expect(main.get_by_label("Portal URL", exact=True)).to_have_value(portal.url)
    expect(_warning(page)).to_be_visible()
    fill(page, "Portal URL", "http://localhost:8501", scope=main)  # still loopback
    click_button(page, "Save practice settings", scope=main)
    expect(main.get_by_text("Saved the practice settings.")).to_be_visible()
    expect(_warning(page)).to_be_visible()

    fill(page, "Portal URL", PUBLIC + "/", scope=main)
    click_button(page, "Save practice settings", scope=main)
    expect(main.get_by_text("Saved the practice settings.")).to_be_visible()
    expect(main.get_by_label("Portal URL", exact=True)).to_have_value(PUBLIC)
    expect(_warning(page)).to_have_count(0)
    page = open_in_new_tab(page, "/")
    expect(main_area(page).get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(_warning(page)).to_have_count(0)

    # The next welcome email's activation link is on the public address.
    page = open_in_new_tab(
        page, f"/register?appointment={SEEDED['appointment']}&practice={SEEDED['practice']}")
    click_button(page, "Complete Registration", scope=main_area(page))
    expect(main_area(page).get_by_text("Welcome email: Sent.")).to_be_visible()
    body = smtp.wait_for(lambda m: m["To"] == PARENT_EMAIL).get_body(("plain",)).get_content()
    links = re.findall(r"https?://[^\s<>\"]+", body)
    activation = [link for link in links if "/activate?" in link]
    assert activation and all(link.startswith(f"{PUBLIC}/activate?practice=")
                              for link in activation), links
    assert not [link for link in links if "127.0.0.1" in link or "localhost" in link], links


def test_server_log_holds_no_password(portal):
    support.assert_absent_from_log(portal, {"admin password": PASSWORD})
