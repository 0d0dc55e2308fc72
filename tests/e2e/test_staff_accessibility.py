"""The staff pages in Chromium: no axe-core violation of any impact on any of them but Streamlit's
own (support.STREAMLIT_ONLY), signed in as an admin of a practice with visits today and last
week, a row selected and the legend open on the Dashboard, an invited patient on Register
Patient; and the Dashboard's Mark arrived, then Register, with the keyboard alone (the grid's
keys: tests/e2e/test_dashboard_register.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from models import AppointmentStatus, OutboxMessage, OutboxStatus, Role, TextOptOut
from tests.e2e import support
from tests.e2e.support import Staff, main_area
from tests.factories import make_enrollment, make_location, make_provider, make_visit

pytestmark = pytest.mark.e2e

ADMIN = Staff("ines.admin", "Ines Admin", "admin-pass-Heron-58", Role.admin)
STAFF_PAGES = {  # path: the page's title
    "/": "Dashboard", "/enrollment": "Enrollment", "/import_schedule": "Import Schedule",
    "/outbox": "Outbox", "/audit_log": "Audit Log", "/practice_settings": "Practice Settings",
    "/staff_users": "Staff Users", "/text_opt_outs": "Text Opt-Outs",
}
EVERY_IMPACT = ("minor", "moderate", "serious", "critical")
SEEDED: dict[str, int] = {}


@pytest.fixture(scope="module")
def portal_seed():
    def fill(session):
        practice = support.seed_practice(session, "Harbor Pediatrics", ADMIN)
        where = {"location": make_location(session, practice, name="Harbor Street"),
                 "provider": make_provider(session, practice, name="Dr. Lee")}
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        for number, first in enumerate(("Ana", "Ben", "Cleo")):
            make_visit(session, practice, start_at=now + dt.timedelta(minutes=number),
                       guardian={"email": f"parent.{first.lower()}@example.com"}, **where,
                       first_name=first, last_name="Moreau")
        make_visit(session, practice, start_at=now, guardian={}, **where, first_name="Dov",
                   last_name="Arrived", status=AppointmentStatus.arrived.value)
        child, visit = make_visit(session, practice, start_at=now - dt.timedelta(days=6),
                              guardian={}, **where, first_name="Eli", last_name="Invited",
                              status=AppointmentStatus.completed.value)
        enrollment = make_enrollment(session, practice, patient=child)
        SEEDED.update(practice=practice.id, invited_visit=visit.id)  # Register: Issue new PIN
        for status, error in ((OutboxStatus.failed, "550 mailbox unavailable"),
                              (OutboxStatus.held, None)):
            session.add(OutboxMessage(practice_id=practice.id, enrollment_id=enrollment.id,
                                      channel="email", recipient=enrollment.email,
                                      subject="Your portal invitation", body_text="Welcome",
                                      status=status, last_error=error))
        session.add(TextOptOut(phone="+16175550188", source="reply", note="Replied STOP"))

    return fill


def test_no_axe_violations_on_the_staff_pages(new_context):
    page = new_context(viewport={"width": 1366, "height": 768}).new_page()
    support.signed_in(page, ADMIN)
    problems: list[str] = []
    register = f"/register?appointment={SEEDED['invited_visit']}&practice={SEEDED['practice']}"
    for path, title in {**STAFF_PAGES, register: "Register Patient"}.items():
        support.open_app(page, path)
        main = main_area(page)
        expect(main.get_by_role("heading", name=title, level=1)).to_be_visible()
        if title == "Dashboard":
            support.select_row(page, row=0)
            main.get_by_text("What the portal status badges mean").click()
            expect(main.get_by_text("No portal invitation yet: register the parent").first
                   ).to_be_visible()
        if title == "Enrollment":  # each chart says what it shows in a title of its own
            charts = main.get_by_test_id("stPlotlyChart")
            expect(charts.first.locator(".gtitle")).to_be_visible()
            titles = [chart.locator(".gtitle").first.text_content() for chart in charts.all()]
            assert len(titles) >= 4 and all(titles), titles
        if title == "Register Patient":  # an invited patient: the page's deepest headings
            expect(main.get_by_role("heading", name="Issue new PIN", level=3)).to_be_visible()
        problems += support.axe_violations(page, title, impacts=EVERY_IMPACT)
    assert not problems, "\n".join(problems)


def test_mark_arrived_then_register_with_the_keyboard_alone(new_context):
    page = new_context(viewport={"width": 1366, "height": 768}).new_page()
    main = support.signed_in(page, ADMIN)
    prompt = main.get_by_test_id("stAlert").filter(has_text="arrived and not registered")
    expect(prompt).to_contain_text("1 arrived and not registered")
    # Tab reaches the first visit to mark; arrow keys move along the visits without marking.
    support.tab_until(page, "el.getAttribute('role') === 'radio'")
    support.tab_until(page, "el.innerText.includes('Moreau, Cleo')", key="ArrowRight", limit=5)
    with support.rerun(page):
        page.keyboard.press("Enter")
    expect(main.get_by_text("Marked Arrived.")).to_be_visible()
    expect(prompt).to_contain_text("2 arrived and not registered")
    expect(prompt).to_contain_text("Moreau, Cleo")
    expect(prompt).not_to_contain_text("Moreau, Ana")  # the arrow keys marked nobody
    expect(prompt).not_to_contain_text("Moreau, Ben")
    # The prompt's Register link for her is above the visits: back to it, and Enter.
    support.tab_until(page, "el.tagName === 'A' && el.innerText.includes('Register Moreau, Cleo')",
                      key="Shift+Tab")
    with support.rerun(page):
        page.keyboard.press("Enter")
    expect(main.get_by_role("heading", name="Register Patient")).to_be_visible()
    expect(main.get_by_role("heading", name="Cleo Moreau")).to_be_visible()
    assert len(page.context.pages) == 1  # the same tab

