"""A family registration in Chromium: two siblings ticked on Register Patient, one Complete
Registration, one family letter with both PINs, one email listing both children."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from models import PatientGuardian
from tests.e2e import support
from tests.e2e.support import Staff, click_button, expect_signed_in, main_area, open_app
from tests.factories import make_guardian, make_patient

pytestmark = pytest.mark.e2e

FAY = Staff("fay.staff", "Fay Staff", "staff-pass-Plover-73")
SEEDED: dict[str, int] = {}
PIN = re.compile(r"\b[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}\b")


@pytest.fixture(scope="module")
def portal_seed():
    def fill(session):
        practice = support.seed_practice(session, "Family Peds", FAY)
        mom = make_guardian(session, practice, first_name="Rita", last_name="Silva",
                            email="rita@example.com")
        _, appointment = support.seed_visit(
            session, practice, first_name="Ana", last_name="Silva",
            date_of_birth=dt.date(2017, 1, 5), guardian=mom, start_at=dt.datetime.now(dt.UTC))
        ben = make_patient(session, practice, first_name="Ben", last_name="Silva",
                           date_of_birth=dt.date(2019, 7, 9))
        session.add(PatientGuardian(patient_id=ben.id, guardian_id=mom.id))
        SEEDED.update(practice=practice.id, appointment=appointment.id, ben=ben.id)

    return fill


def test_family_registration_one_submit_one_letter(page, portal, smtp):
    support.signed_in(page, FAY)
    open_app(page, f"/register?appointment={SEEDED['appointment']}&practice={SEEDED['practice']}")
    expect_signed_in(page, FAY.name)
    support.wait_for_app_run(page)
    main = main_area(page)
    expect(main.get_by_text("Ana Silva").first).to_be_visible()
    with support.rerun(page):
        main.get_by_test_id("stCheckbox").filter(has_text="Ben Silva").click()
    support.screenshot(page, "register-family-form")
    click_button(page, "Complete Registration", scope=main)
    expect(main.get_by_text("Registered together: Ana Silva, Ben Silva")).to_be_visible()
    pins = PIN.findall(main.inner_text())
    assert len(set(pins)) == 2
    support.screenshot(page, "register-family-complete")
    with support.rerun(page), page.expect_download() as download_info:
        main.get_by_role("button", name="Print PIN").click()
    text = PdfReader(download_info.value.path()).pages[0].extract_text()
    assert "Ana Silva" in text and "Ben Silva" in text
    assert all(pin in text for pin in set(pins))
    message = smtp.wait_for(lambda mail: mail["To"] == "rita@example.com")
    body = message.get_body(("plain",)).get_content()
    assert "Ana Silva" in body and "Ben Silva" in body
