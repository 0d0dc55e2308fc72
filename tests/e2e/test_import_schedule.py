"""Import Schedule in Chromium: an admin uploads a CSV export, checks the mapping preview,
imports it, reads the report, and finds the appointments on the Dashboard."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from playwright.sync_api import expect

from models import Role
from services.auth import create_user
from tests.e2e import support
from tests.e2e.support import click_button, expect_signed_in, main_area, open_app, rerun, sign_in
from tests.factories import make_location, make_practice, make_provider

pytestmark = pytest.mark.e2e

PASSWORD = "admin-pass-Osprey-47"
TIMEZONE = "America/New_York"


@pytest.fixture(scope="module")
def portal_seed():
    def fill(session):
        practice = make_practice(session, name="Sunny Peds", timezone=TIMEZONE)
        make_provider(session, practice, name="Dr. Ada Lee")
        make_location(session, practice, name="Main Street")
        create_user(session, username="ada.admin", name="Ada Admin", email="ada@example.org",
                    role=Role.admin, password=PASSWORD, actor="e2e",
                    practice_names=["Sunny Peds"])

    return fill


def todays_schedule() -> bytes:
    """Today's visits in the practice's timezone, so that the Dashboard's default shows them."""
    today = dt.datetime.now(zoneinfo.ZoneInfo(TIMEZONE)).date().strftime("%m/%d/%Y")
    return (
        "Chart #,First Name,Last Name,DOB,Appt ID,Date,Time,Provider,Location,Visit Type,"
        "Parent First Name,Parent Last Name,Parent Email,Parent Cell\n"
        f"M-100,Sofia,Rivera,05/02/2019,A-1,{today},9:30 AM,Dr. Ada Lee,Main Street,Well Child,"
        "Maria,Rivera,maria@example.com,(617) 555-0142\n"
        f"M-200,Theo,Okafor,2016-11-20,A-2,{today},10:00 AM,Dr. Ada Lee,Main Street,Sick Visit,"
        "Grace,Okafor,grace@example.com,\n"
        f"M-300,Ivy,Chen,2021-01-09,A-3,{today},11:15 AM,Dr. Ben Ito,Northside,Vaccine,,,,\n"
    ).encode()


def test_an_admin_imports_a_csv_and_sees_it_on_the_dashboard(page, portal):
    open_app(page, "/")
    sign_in(page, "ada.admin", PASSWORD)
    expect_signed_in(page, "Ada Admin")
    with rerun(page):
        page.get_by_role("link", name="Import Schedule").click()
    main = main_area(page)
    with rerun(page):
        main.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(files=[{
            "name": "schedule.csv", "mimeType": "text/csv", "buffer": todays_schedule()}])
    expect(main.get_by_text("3 rows, 14 columns.")).to_be_visible()
    expect(main.get_by_test_id("stDataFrame").first).to_be_visible()
    support.screenshot(page, "import-schedule-mapping")

    with rerun(page):
        main.get_by_text("Create unknown providers and locations").click()
    click_button(page, "Import schedule", scope=main)
    expect(main.get_by_text(
        "Imported 3 of 3 rows: 3 created, 0 updated, 0 unchanged, 0 rejected.")).to_be_visible()
    expect(main.get_by_text("New providers and locations: Dr. Ben Ito, Northside.",
                            exact=False)).to_be_visible()
    expect(main.get_by_role("button", name="Download report (CSV)")).to_be_visible()
    support.screenshot(page, "import-schedule-report")

    # The same file again changes nothing.
    click_button(page, "Import schedule", scope=main)
    expect(main.get_by_text("0 created, 0 updated, 3 unchanged", exact=False)).to_be_visible()

    with rerun(page):
        page.get_by_role("link", name="Dashboard").click()
    appointments = main.get_by_test_id("stMetric").filter(has_text="Appointments")
    expect(appointments).to_contain_text("3")
    expect(main.get_by_test_id("stDataFrame").first).to_be_visible()
    support.screenshot(page, "import-schedule-dashboard")
