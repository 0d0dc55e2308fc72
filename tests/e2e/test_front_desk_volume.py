"""The front desk at volume in Chromium: Register all over a filtered day (progress, summary,
the combined letters PDF read back), Mark arrived with its prompt, and the Access due filter."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from models import AppointmentStatus
from tests.e2e import support
from tests.e2e.support import Staff, click_button, expect_signed_in, open_app
from tests.factories import make_guardian, make_location, make_provider

pytestmark = pytest.mark.e2e

VERA = Staff("vera.desk", "Vera Desk", "front-desk-Kestrel-42")
SEEDED: dict[str, int] = {}


@pytest.fixture(scope="module")
def portal_seed():
    def fill(session):
        practice = support.seed_practice(session, "Volume Pediatrics", VERA)
        main = make_location(session, practice, name="Main Street")
        north = make_location(session, practice, name="Northside")
        doctor = make_provider(session, practice, name="Dr. Avery")
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        sibling_parent = make_guardian(session, practice, first_name="Rosa", last_name="Diaz",
                                       email="rosa.diaz@example.org")
        for first, last, location, email in [("Ana", "Diaz", main, None),
                                             ("Leo", "Diaz", main, None),
                                             ("Mia", "Park", main, "jin.park@example.org"),
                                             ("Kai", "Noemail", main, ""),
                                             ("Ola", "North", north, "ola@example.org")]:
            support.seed_visit(session, practice, first_name=first, last_name=last,
                               guardian=sibling_parent if email is None
                               else {"email": email or None},
                               location=location, provider=doctor, start_at=now)
        support.seed_visit(session, practice, first_name="Old", last_name="Visit",
                           location=main, provider=doctor,
                           start_at=now - dt.timedelta(days=12),
                           status=AppointmentStatus.completed.value)
        SEEDED.update(main=main.id)

    return fill


def signed_in(page, path: str):
    return support.signed_in(page, VERA, path)


def test_register_all_over_a_filtered_day_with_progress_and_letters(page):
    main = signed_in(page, f"/?location={SEEDED['main']}")
    click_button(page, "Register all", scope=main)
    expect(main.get_by_text("3 patients", exact=True)).to_be_visible()
    expect(main.get_by_text("1 will be skipped (No guardian email on file: 1)")).to_be_visible()
    support.screenshot(page, "dashboard-register-all-confirm")
    click_button(page, "Invite 3 patients", scope=main)
    expect(main.get_by_text("3 registered.")).to_be_visible()
    with page.expect_download() as download:
        main.get_by_role("button", name="Download letters (2 families, PDF)").click()
    reader = PdfReader(io.BytesIO(download.value.path().read_bytes()))
    pages = [p.extract_text() for p in reader.pages]
    assert len(pages) == 2
    assert any("Ana Diaz" in text and "Leo Diaz" in text for text in pages)
    support.screenshot(page, "dashboard-register-all-done")


def test_mark_arrived_prompts_and_access_due_filter(page):
    main = signed_in(page, "/")
    with support.rerun(page):
        main.get_by_test_id("stButtonGroup").get_by_text("North, Ola").click()
    expect(main.get_by_text("arrived and not registered")).to_be_visible()
    support.screenshot(page, "dashboard-arrivals")
    start = (dt.date.today() - dt.timedelta(days=14)).isoformat()
    open_app(page, f"/?start={start}&due=overdue")  # signed in already (the cookie)
    expect_signed_in(page, VERA.name)
    support.wait_for_app_run(page)
    cells = main.get_by_test_id("stDataFrame").locator("td[role=gridcell]")
    expect(cells.filter(has_text="Visit, Old")).to_have_count(1)
    assert "Diaz, Ana" not in " ".join(cells.all_inner_texts())  # due later or not seen
    expect(support.sidebar(page).get_by_role("combobox", name="Access due")).to_have_value(
        "Overdue")
    support.screenshot(page, "dashboard-access-due")
