"""The front desk's day in a real browser: Dashboard filters with the provider chooser; Register
from a row, the PIN letter and the welcome email; the parent activates with that PIN and the
Dashboard badge turns Active; a supervisor's Enrollment charts are drawn."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from models import Role
from services.demo import seed_demo
from tests.e2e import support
from tests.e2e.support import (
    Staff,
    choose_option,
    click_button,
    fill,
    grid_column,
    main_area,
    open_app,
    register_from_row,
    reload_app,
    rerun,
    sidebar,
    type_date,
)
from tests.factories import make_location, make_provider

pytestmark = pytest.mark.e2e

TIMEZONE = "America/New_York"
STAFF = Staff("sam.staff", "Sam Staff", "staff-pass-Heron-29")
SUPERVISOR = Staff("sue.super", "Sue Supervisor", "super-pass-Marmot-83", Role.supervisor)
PARENT_EMAIL = "rosa.rivera@example.com"
PARENT_PASSWORD = "parent-pass-Otter-75"
MIA_BIRTH = dt.date(2018, 5, 17)
PIN_PATTERN = r"\b[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}\b"
SEEN: dict[str, str] = {}  # what the scenarios saw, for the server-log check


def _today_at(hour: int) -> dt.datetime:
    """Today at `hour` o'clock in the practice's timezone, as UTC (the Dashboard's default)."""
    zone = zoneinfo.ZoneInfo(TIMEZONE)
    today = dt.datetime.now(zone).date()
    return dt.datetime.combine(today, dt.time(hour), zone).astimezone(dt.UTC)


@pytest.fixture(scope="module")
def portal_seed():
    def fill_rows(session):
        practice = support.seed_practice(session, "Sunny Peds", STAFF, timezone=TIMEZONE)
        ada = make_provider(session, practice, name="Dr. Ada Lee")
        ben = make_provider(session, practice, name="Dr. Ben Ito")
        main_street = make_location(session, practice, name="Main Street")
        northside = make_location(session, practice, name="Northside")
        support.seed_visit(session, practice, first_name="Mia", last_name="Rivera",
                           date_of_birth=MIA_BIRTH, provider=ada, location=main_street,
                           start_at=_today_at(9), guardian={
                               "first_name": "Rosa", "last_name": "Rivera",
                               "email": PARENT_EMAIL})
        support.seed_visit(session, practice, first_name="Noah", last_name="Okafor",
                           guardian={}, provider=ben, location=northside,
                           start_at=_today_at(10))
        demo = seed_demo(session, practice_name="Demo Pediatrics", appointments=2000)
        support.seed_staff(session, SUPERVISOR, practice_ids=[demo.practice_id])

    return fill_rows


def _patients(page):
    return grid_column(main_area(page), "Patient")


def test_dashboard_filters_location_and_the_provider_chooser(page):
    support.signed_in(page, STAFF)
    main = main_area(page)
    expect(main.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(_patients(page)).to_have_text(["Rivera, Mia", "Okafor, Noah"])

    choose_option(page, "Location", "Main Street", scope=sidebar(page))
    expect(_patients(page)).to_have_text(["Rivera, Mia"])
    assert "location=" in page.url  # the view can be bookmarked
    choose_option(page, "Location", "All locations", scope=sidebar(page))
    expect(_patients(page)).to_have_text(["Rivera, Mia", "Okafor, Noah"])

    # Select Provider(s) -> Clear -> one provider -> Apply.
    click_button(page, "Select Provider(s)", scope=sidebar(page))
    chooser = page.get_by_role("dialog")
    expect(chooser.get_by_text("Select Provider(s)")).to_be_visible()
    click_button(page, "Clear", scope=chooser)
    expect(chooser.get_by_role("checkbox", name="Dr. Ada Lee")).not_to_be_checked()
    with rerun(page):
        chooser.get_by_text("Dr. Ben Ito", exact=True).click()
    click_button(page, "Apply", scope=chooser)
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(sidebar(page).get_by_text("Dr. Ben Ito")).to_be_visible()
    expect(_patients(page)).to_have_text(["Okafor, Noah"])
    assert "providers=" in page.url
    support.screenshot(page, "dashboard-provider-chosen")

    # Select Provider(s) -> Select all providers -> Apply.
    click_button(page, "Select Provider(s)", scope=sidebar(page))
    chooser = page.get_by_role("dialog")
    expect(chooser.get_by_role("checkbox", name="Dr. Ada Lee")).not_to_be_checked()
    click_button(page, "Select all providers", scope=chooser)
    expect(chooser.get_by_role("checkbox", name="Dr. Ada Lee")).to_be_checked()
    expect(chooser.get_by_role("checkbox", name="Dr. Ben Ito")).to_be_checked()
    click_button(page, "Apply", scope=chooser)
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(sidebar(page).get_by_text("All providers (2)")).to_be_visible()
    expect(_patients(page)).to_have_text(["Rivera, Mia", "Okafor, Noah"])
    assert "providers=" not in page.url

    # A date range that ends before it starts is refused with the fix; nothing is listed.
    yesterday = dt.datetime.now(zoneinfo.ZoneInfo(TIMEZONE)).date() - dt.timedelta(days=1)
    type_date(page, "End Date", yesterday, scope=sidebar(page))
    with rerun(page):
        main.get_by_role("heading", name="Dashboard").click()  # leaving the field commits it
    expect(main.get_by_text("is before Start Date")).to_be_visible()
    expect(main.get_by_test_id("stDataFrame")).to_have_count(0)


def test_register_letter_email_activation_then_the_badge_turns_active(page, new_context, smtp):
    support.signed_in(page, STAFF)
    dashboard = page
    expect(_patients(dashboard)).to_have_text(["Rivera, Mia", "Okafor, Noah"])
    expect(grid_column(main_area(dashboard), "Portal status").first).to_have_text(
        "Not registered")

    # Register from Mia's row: selected, its Register link opens Register Patient in this tab.
    page = register_from_row(dashboard, row=0)
    main = main_area(page)
    expect(main.get_by_role("heading", name="Register Patient")).to_be_visible()
    expect(main.get_by_text("Register Patient with")).to_be_visible()
    expect(main.get_by_label("Email Address", exact=True)).to_have_value(PARENT_EMAIL)
    click_button(page, "Complete Registration", scope=main)
    expect(main.get_by_text("Registration complete for Mia Rivera.")).to_be_visible()
    pin = re.search(PIN_PATTERN, main.inner_text()).group(0)
    SEEN["PIN"] = pin
    expect(main.get_by_text("Welcome email: Sent.")).to_be_visible()

    # The PIN letter, downloaded and read back.
    with rerun(page), page.expect_download() as download:
        main.get_by_role("button", name="Print PIN").click()
    letter = "\n".join(p.extract_text() for p in PdfReader(download.value.path()).pages)
    assert pin in letter
    assert "Mia Rivera" in letter

    # The welcome email, received by a real SMTP server, carries the same PIN and the link.
    email = smtp.wait_for(lambda message: message["To"] == PARENT_EMAIL)
    body = email.get_body(("plain",)).get_content()
    assert pin in body
    link = re.search(r"https?://\S+/activate\?\S+", body).group(0)
    assert link in letter.replace("\n", "")

    # The parent, in a browser of their own, activates with the PIN and the date of birth.
    parent = new_context().new_page()
    parts = urlsplit(link)
    open_app(parent, f"{parts.path}?{parts.query}")
    form = main_area(parent).get_by_test_id("stForm")
    expect(main_area(parent).get_by_role("heading", name="Activate Portal Account")
           ).to_be_visible()
    fill(parent, "PIN", pin.lower().replace("-", ""), scope=form)  # as a parent may type it
    type_date(parent, "Child's date of birth", MIA_BIRTH, scope=form)
    fill(parent, "Email address", PARENT_EMAIL, scope=form)
    fill(parent, "Password", PARENT_PASSWORD, scope=form)
    fill(parent, "Repeat password", PARENT_PASSWORD, scope=form)
    click_button(parent, "Activate account", scope=form)
    expect(main_area(parent).get_by_test_id("stAlertContentSuccess")).to_be_visible()
    support.screenshot(parent, "activate-done-front-desk")

    # Back at the front desk: the badge is Active and the row has no Register mark.
    with rerun(page):
        main.get_by_role("link", name="Back to Dashboard").click()
    reload_app(dashboard)
    statuses = grid_column(main_area(dashboard), "Portal status")
    expect(statuses).to_have_text(["Active", "Not registered"])
    expect(grid_column(main_area(dashboard), "Register").first).to_have_text("")
    support.screenshot(dashboard, "dashboard-active")


def test_a_supervisor_sees_the_enrollment_charts_drawn(page):
    support.signed_in(page, SUPERVISOR)
    expect(sidebar(page).get_by_label("Practice", exact=True)).to_have_value("Demo Pediatrics")
    with rerun(page):
        page.get_by_role("link", name="Enrollment", exact=True).click()
    main = main_area(page)
    expect(main.get_by_role("heading", name="Enrollment", exact=True)).to_be_visible()
    charts = main.get_by_test_id("stPlotlyChart")
    expect(charts).to_have_count(5)
    for chart in charts.all():
        chart.scroll_into_view_if_needed()
        # Drawn by plotly.js: its SVG with at least one trace of data in the plot area.
        expect(chart.locator("svg.main-svg").first).to_be_visible()
        expect(chart.locator("svg.main-svg g.trace g.point path").first).to_be_attached()
    support.screenshot(page, "enrollment-supervisor")


def test_server_log_holds_no_pin_password_or_patient_detail(portal):
    support.assert_absent_from_log(portal, {
        **SEEN,
        "staff password": STAFF.password,
        "supervisor password": SUPERVISOR.password,
        "parent password": PARENT_PASSWORD,
        "parent email": PARENT_EMAIL,
        "patient name": "Rivera",
        "date of birth (ISO)": MIA_BIRTH.isoformat(),
        "date of birth (US)": f"{MIA_BIRTH:%m/%d/%Y}",
    })
