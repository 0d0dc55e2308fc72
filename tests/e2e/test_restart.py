"""A server that has just started (a restart, an upgrade, a replica brought back): its first
runs go through app.py like every later one.

Streamlit treats an app with a `pages/` folder as an old-style multipage app until a run calls
st.navigation. On a fresh process, a tab's first run could start in `pages/<name>.py` itself:
past app.py's sign-in from the cookie, its start-up and its imports. An open Dashboard tab
reconnecting after a restart then said "You do not have access to this page", and several
tabs at once could fail on their side-by-side imports (Streamlit's error page).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from playwright.sync_api import expect

from models import Role
from tests.e2e import support
from tests.e2e.conftest import fresh_database_url, seed_database
from tests.e2e.support import (
    Staff,
    expect_signed_in,
    main_area,
    sign_in,
)

pytestmark = pytest.mark.e2e

TIMEZONE = "America/New_York"
STAFF = Staff("rhea.lead", "Rhea Lead", "lead-pass-Marten-52", Role.admin)
NO_ACCESS = "You do not have access to this page."
ACTIVATE = "Activate Portal Account"


def _seed(session) -> None:
    practice = support.seed_practice(session, "Restart Peds", STAFF, timezone=TIMEZONE)
    zone = zoneinfo.ZoneInfo(TIMEZONE)
    start = dt.datetime.combine(dt.datetime.now(zone).date(), dt.time(10), zone)
    support.seed_visit(session, practice, first_name="Remy", last_name="Stone",
                       date_of_birth=dt.date(2017, 6, 1), start_at=start.astimezone(dt.UTC))


@pytest.fixture
def fresh(tmp_path):
    """A seeded database and a way to (re)start a server on it, on one port."""
    data_dir = tmp_path / "data"
    database_url = fresh_database_url(tmp_path)
    seed_database(database_url, _seed, data_dir)
    started: list[support.PortalServer] = []

    def start(port: int | None = None) -> support.PortalServer:
        server = support.start_server(name=f"restart-{len(started) + 1}", data_dir=data_dir,
                                      database_url=database_url, extra_env={}, port=port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def browser_context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(support.RUN_TIMEOUT_MS)
    context.add_init_script(support.RUN_COUNTER_SCRIPT)
    yield context
    context.close()


def test_a_page_address_as_a_fresh_servers_first_visit_shows_the_sign_in_form(
        fresh, browser_context):
    server = fresh()
    page = browser_context.new_page()
    page.goto(f"{server.url}/dashboard")
    support.wait_for_app_run(page)
    expect(page.get_by_text(NO_ACCESS)).to_have_count(0)
    sign_in(page, STAFF.username, STAFF.password)
    expect_signed_in(page, STAFF.name)
    expect(main_area(page).get_by_text("Stone, Remy").first).to_be_visible()


def _expect_page(tab, heading: str) -> None:
    if heading != ACTIVATE:  # the parents' page has no staff sidebar
        expect_signed_in(tab, STAFF.name)
    expect(main_area(tab).get_by_role("heading", name=heading).first).to_be_visible()


def test_open_tabs_come_back_signed_in_after_a_restart(fresh, browser_context):
    server = fresh()
    first = browser_context.new_page()
    first.goto(server.url)
    support.wait_for_app_run(first)
    sign_in(first, STAFF.username, STAFF.password)
    expect_signed_in(first, STAFF.name)
    # Tabs of the same browser (the cookie signs them in) on pages other than the first one:
    # after the restart, their first runs ask for those pages.
    tabs = {}
    for path, heading in (("audit_log", "Audit Log"), ("enrollment", "Enrollment"),
                          ("activate", ACTIVATE)):
        tab = browser_context.new_page()
        tab.goto(f"{server.url}/{path}")
        support.wait_for_app_run(tab)
        _expect_page(tab, heading)
        tabs[tab] = heading
    first.close()
    runs = {tab: support.runs_done(tab) for tab in tabs}

    server.stop()
    server = fresh(port=server.port)  # the same address: the tabs reconnect by themselves
    for tab, heading in tabs.items():
        support.wait_for_app_run(tab, after=runs[tab])  # a run of the new server's
        expect(tab.get_by_text(NO_ACCESS)).to_have_count(0)
        _expect_page(tab, heading)
    assert "Traceback" not in server.output()
