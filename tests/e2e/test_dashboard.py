"""The Dashboard in Chromium: badges and counts, a filter from the link, the provider chooser,
and End Date before Start Date."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from models import Enrollment, EnrollmentStatus
from tests.e2e import support
from tests.e2e.support import Staff, click_button, main_area, sidebar
from tests.factories import make_location, make_provider

pytestmark = pytest.mark.e2e

DANA = Staff("dana.desk", "Dana Desk", "front-desk-Kestrel-42")
SEEDED: dict[str, int] = {}


@pytest.fixture(scope="module")
def portal_seed():
    def fill(session):
        practice = support.seed_practice(session, "Harbor Pediatrics", DANA)
        main, north = (make_location(session, practice, name=name)
                       for name in ("Main Street", "Northside"))
        avery, brooks = (make_provider(session, practice, name=name)
                         for name in ("Dr. Avery", "Dr. Brooks"))
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)  # today wherever the practice is
        visits = [("Rivera", main, avery), ("Chen", north, brooks), ("Ortiz", main, brooks)]
        for last_name, location, provider in visits:
            patient, _ = support.seed_visit(session, practice, first_name="Sam",
                                            last_name=last_name, guardian={},
                                            location=location, provider=provider, start_at=now)
            if last_name == "Ortiz":
                session.add(Enrollment(practice_id=practice.id, patient_id=patient.id,
                                       status=EnrollmentStatus.active,
                                       link_token=uuid.uuid4().hex))
        SEEDED.update(north=north.id, avery=avery.id)

    return fill


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def signed_in_dashboard(page, path: str = "/"):
    main = support.signed_in(page, DANA, path)
    expect(main.get_by_role("heading", name="Dashboard")).to_be_visible()
    return main


def metric_value(main, label: str) -> str:
    metric = main.get_by_test_id("stMetric").filter(has_text=label)
    return metric.get_by_test_id("stMetricValue").inner_text()


def test_dashboard_shows_todays_schedule_with_badges(page):
    main = signed_in_dashboard(page)
    assert metric_value(main, "Appointments") == "3"
    assert metric_value(main, "Not registered") == "2"
    assert metric_value(main, "Share active") == "33%"
    # The grid is drawn on a canvas; its accessible copy holds each cell's text.
    cells = main.get_by_test_id("stDataFrame").locator("td[role=gridcell]")
    expect(cells.filter(has_text=re.compile(r"^Not registered$"))).to_have_count(2)
    expect(cells.filter(has_text=re.compile(r"^Active$"))).to_have_count(1)
    expect(cells.filter(has_text=re.compile(r"^Register$"))).to_have_count(2)
    expect(sidebar(page).get_by_role("combobox", name="Location")).to_have_value("All locations")
    expect(sidebar(page).get_by_text("All providers (2)")).to_be_visible()
    support.screenshot(page, "dashboard-today")


def test_location_from_the_link_stays_in_the_link(page):
    main = signed_in_dashboard(page, f"/?location={SEEDED['north']}")
    assert metric_value(main, "Appointments") == "1"
    expect(sidebar(page).get_by_role("combobox", name="Location")).to_have_value("Northside")
    assert query(page)["location"] == [str(SEEDED["north"])]


def test_provider_chooser_applies_a_subset_and_mirrors_it_in_the_link(page):
    signed_in_dashboard(page)
    click_button(page, "Select Provider(s)", scope=sidebar(page))
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Select all providers")).to_be_visible()
    click_button(page, "Clear", scope=dialog)
    with support.rerun(page):
        dialog.get_by_test_id("stCheckbox").filter(has_text="Dr. Avery").click()
    click_button(page, "Apply", scope=dialog)
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(sidebar(page).get_by_text("Dr. Avery")).to_be_visible()
    assert query(page)["providers"] == [str(SEEDED["avery"])]
    assert metric_value(main_area(page), "Appointments") == "1"
    support.screenshot(page, "dashboard-one-provider")


def test_end_date_before_start_date_shows_a_message(page):
    main = signed_in_dashboard(page, "/?start=2030-01-10&end=2030-01-09")
    expect(main.get_by_text("is before Start Date")).to_be_visible()
    expect(main.get_by_test_id("stDataFrame")).to_have_count(0)
