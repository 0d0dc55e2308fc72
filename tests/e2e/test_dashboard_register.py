"""Register from the Dashboard in Chromium: the list fits a 1366 × 768 screen without sideways
scrolling; with the keyboard alone (Tab, arrows, Shift+Space, Enter) a row is selected and its
Register link opens Register Patient for that patient in the same tab; Back to Dashboard
returns to the same filters."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from models import Role
from services.auth import create_user
from services.dates import practice_today
from tests.e2e import support
from tests.e2e.support import expect_signed_in, main_area, open_app, sidebar, sign_in
from tests.factories import (
    make_appointment,
    make_guardian,
    make_location,
    make_patient,
    make_practice,
    make_provider,
)

pytestmark = pytest.mark.e2e

PASSWORD = "front-desk-Osprey-73"
SEEDED: dict[str, int] = {}
FRONT_DESK = ["Time", "Patient", "Register", "Portal status", "Age", "Guardian contact",
              "Provider"]
# The grid's scrolling box, its accessible table and the element that holds keyboard focus.
GRID_FIT = """(grid) => {
  const scroller = grid.querySelector('.dvn-scroller');
  const table = grid.querySelector('table[role=grid]');
  const box = grid.getBoundingClientRect();
  return {scrollWidth: scroller.scrollWidth, clientWidth: scroller.clientWidth,
          scrollHeight: scroller.scrollHeight, clientHeight: scroller.clientHeight,
          right: box.right, windowWidth: window.innerWidth,
          headers: [...table.querySelectorAll('th')].map((th) => th.innerText)};
}"""


@pytest.fixture(scope="module")
def portal_seed():
    def fill(session):
        practice = make_practice(session, name="Bayside Pediatrics")
        create_user(session, username="kai.desk", name="Kai Desk", email="kai@example.org",
                    role=Role.staff, password=PASSWORD, actor="e2e",
                    practice_names=["Bayside Pediatrics"])
        main, north = (make_location(session, practice, name=name)
                       for name in ("Main Street", "Northside"))
        provider = make_provider(session, practice, name="Dr. Maximiliana Featherstonehaugh")
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)  # today wherever the practice is
        # Long names and contacts: the widest a row gets on a real day.
        for number, (first, last, location) in enumerate([
                ("Alexandra-Josephine", "Vanderbilt-Montgomery", main),
                ("Bo", "Nguyen", north), ("Cy", "Okafor", north)]):
            patient = make_patient(session, practice, first_name=first, last_name=last)
            make_guardian(session, practice, patients=[patient], first_name="Guadalupe",
                          last_name=last, email=f"guadalupe.{last.lower()}@family-mail.example.org",
                          cell_phone="+13125550100")
            make_appointment(session, practice, patient=patient, location=location,
                             provider=provider, start_at=now + dt.timedelta(minutes=number))
        for number in range(20):  # enough rows for the grid's own vertical scrollbar
            patient = make_patient(session, practice, first_name="Ida", last_name=f"Row{number}")
            make_appointment(session, practice, patient=patient, location=main,
                             provider=provider, start_at=now + dt.timedelta(minutes=10))
        SEEDED.update(north=north.id)

    return fill


def signed_in(page, path: str = "/"):
    open_app(page, path)
    sign_in(page, "kai.desk", PASSWORD)
    expect_signed_in(page, "Kai Desk")
    support.wait_for_app_run(page)
    main = main_area(page)
    expect(main.get_by_test_id("stDataFrame")).to_be_visible()
    return main


@pytest.mark.parametrize("days", [1, 7])
def test_the_list_fits_a_1366_screen_without_sideways_scrolling(new_context, days):
    page = new_context(viewport={"width": 1366, "height": 768}).new_page()
    # The practice's today (New York), not the server's: CI runs just after UTC midnight too.
    start = practice_today("America/New_York") - dt.timedelta(days=days - 1)  # a week: dates
    main = signed_in(page, f"/?start={start.isoformat()}")
    expect(sidebar(page)).to_be_visible()  # with the sidebar open
    grid = main.get_by_test_id("stDataFrame")
    # The grid draws on a canvas, then writes its accessible copy inside it.
    expect(grid.locator("table[role=grid] th").first).to_be_attached()
    fit = grid.evaluate(GRID_FIT)
    print(f"1366 x 768, {days} day(s): {fit['scrollWidth']} px of grid in {fit['clientWidth']} px")
    assert fit["headers"][:len(FRONT_DESK)] == FRONT_DESK, fit["headers"]
    assert fit["scrollHeight"] > fit["clientHeight"], fit  # a vertical scrollbar takes room
    assert fit["scrollWidth"] <= fit["clientWidth"], fit
    assert fit["right"] <= fit["windowWidth"], fit
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 1366, page_width
    if days == 1:
        support.screenshot(page, "dashboard-1366")


def test_register_with_the_keyboard_alone_in_the_same_tab(context):
    page = context.new_page()
    main = signed_in(page, f"/?location={SEEDED['north']}")
    assert parse_qs(urlparse(page.url).query)["location"] == [str(SEEDED["north"])]
    # The keys are said on screen (nothing in the grid shows them): Tab into the grid, down to
    # the second row, Shift+Space selects it.
    expect(main.get_by_text("With the keyboard: Tab into the list, arrow keys to the patient, "
                            "Shift+Space, then Tab to Register and Enter.")).to_be_visible()
    support.tab_until(page, "el.tagName === 'CANVAS' "
                            "&& el.closest('[data-testid=stDataFrame]') !== null")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    with support.rerun(page):
        page.keyboard.press("Shift+Space")
    link = main.locator(".st-key-dashboard_row_detail").get_by_role(
        "link", name="Register Okafor, Cy")
    expect(link).to_be_visible()
    support.screenshot(page, "dashboard-row-detail")
    # Tab on to the row's Register link and press Enter.
    support.tab_until(page, "el.tagName === 'A' && el.innerText.includes('Register Okafor, Cy')")
    with support.rerun(page):
        page.keyboard.press("Enter")
    expect(main.get_by_role("heading", name="Register Patient")).to_be_visible()
    expect(main.get_by_role("heading", name="Cy Okafor")).to_be_visible()
    expect(main.get_by_text("Register Patient with")).to_be_visible()
    assert len(context.pages) == 1  # the same tab: no new page opened
    query = parse_qs(urlparse(page.url).query)
    assert "appointment" in query and "practice" in query
    # Back to Dashboard (the keyboard again) returns to the same filters.
    support.tab_until(page, "el.tagName === 'A' && el.innerText.includes('Back to Dashboard')")
    with support.rerun(page):
        page.keyboard.press("Enter")
    expect(main.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert parse_qs(urlparse(page.url).query)["location"] == [str(SEEDED["north"])]
    expect(sidebar(page).get_by_role("combobox", name="Location")).to_have_value("Northside")
    assert len(context.pages) == 1
