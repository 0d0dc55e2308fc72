"""Register Patient in Chromium: from a Dashboard row's Register link to a completed
registration, the PIN letter downloaded and the welcome email received by a real SMTP server."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlmodel import select

from models import AuditEvent
from services import db
from tests.e2e import support
from tests.e2e.support import Staff, click_button, main_area

pytestmark = pytest.mark.e2e

SAM = Staff("sam.staff", "Sam Staff", "staff-pass-Heron-61")
SEEDED: dict[str, int] = {}


@pytest.fixture(scope="module")
def portal_seed():
    def fill(session):
        practice = support.seed_practice(session, "Sunny Peds", SAM, phone="(555) 010-2000")
        _, appointment = support.seed_visit(
            session, practice, first_name="Zoë", last_name="O’Brien",
            date_of_birth=dt.date(2018, 5, 17), start_at=dt.datetime.now(dt.UTC),
            guardian={"first_name": "Łukasz", "last_name": "O’Brien",
                      "email": "lukasz@example.com", "cell_phone": "+16175550123"})
        SEEDED.update(practice=practice.id, appointment=appointment.id)

    return fill


def test_register_complete_print_pin_and_the_email_arrives(page, context, portal, smtp):
    support.signed_in(page, SAM)
    expect(main_area(page).get_by_text("Not registered").first).to_be_visible()

    # The selected row's Register link opens Register Patient for that appointment in the
    # same tab.
    page = support.register_from_row(page, row=0)
    assert f"/register?appointment={SEEDED['appointment']}&practice=" in page.url
    main = main_area(page)
    expect(main.get_by_text("Zoë O’Brien").first).to_be_visible()
    expect(main.get_by_text("Register Patient with")).to_be_visible()
    expect(main.get_by_label("Email Address", exact=True)).to_have_value("lukasz@example.com")
    support.screenshot(page, "register-form")

    click_button(page, "Complete Registration", scope=main)
    expect(main.get_by_text("Registration complete for Zoë O’Brien.")).to_be_visible()
    pin = re.search(r"\b[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}\b", main.inner_text()).group(0)
    expect(main.get_by_text("Welcome email: Sent.")).to_be_visible()
    support.screenshot(page, "register-complete-from-dashboard")

    with support.rerun(page), page.expect_download() as download_info:
        main.get_by_role("button", name="Print PIN").click()  # its callback audits, then reruns
    download = download_info.value
    letter = PdfReader(download.path())
    text = letter.pages[0].extract_text()
    assert "Zoë O’Brien" in text and pin in text
    activation = re.search(r"http\S+/activate\?practice=\d+&token=[\w-]+", text).group(0)

    message = smtp.wait_for(lambda mail: mail["To"] == "lukasz@example.com")
    body = message.get_body(("plain",)).get_content()
    assert pin in body
    assert activation in body
    assert "Dear Łukasz O’Brien" in body

    engine = db.get_engine(portal.database_url)
    with db.session_scope(engine=engine, read_only=True) as session:
        actions = set(session.exec(select(AuditEvent.action)).all())
    db.dispose_engines()
    assert {"registration", "pin_issued", "message_sent", "letter_downloaded"} <= actions
    support.assert_absent_from_log(portal, {"PIN": pin})
