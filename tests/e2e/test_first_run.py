"""First run in a real browser: the setup token from the server's terminal, the first
administrator, the demo practice, then every admin page signed in."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e import support
from tests.e2e.support import (
    click_button,
    expect_signed_in,
    fill,
    main_area,
    open_app,
    sidebar,
    sign_in,
)

pytestmark = pytest.mark.e2e

ADMIN = {"Username": "olive.admin", "Full name": "Olive Admin", "Email": "olive@example.org"}
ADMIN_PASSWORD = "first-admin-Pangolin-61"
# Every page an admin may open: URL -> (title, screenshot name). Typed URLs rather than the top
# navigation's links, which fold into "more" on a narrow window.
ADMIN_PAGES = {
    "/": ("Dashboard", "dashboard"),  # the default page lives at the root
    "/register": ("Register Patient", "register-patient"),
    "/enrollment": ("Enrollment", "enrollment"),
    "/import_schedule": ("Import Schedule", "import-schedule"),
    "/outbox": ("Outbox", "outbox"),
    "/staff_users": ("Staff Users", "staff-users"),
    "/practice_settings": ("Practice Settings", "practice-settings"),
    "/audit_log": ("Audit Log", "audit-log-demo"),
}


def _fill_setup(page, token: str, password_repeat: str = ADMIN_PASSWORD) -> None:
    fill(page, "Setup token", token)
    for label, value in ADMIN.items():
        fill(page, label, value)
    fill(page, "Password", ADMIN_PASSWORD)
    fill(page, "Repeat password", password_repeat)


def test_the_setup_form_is_not_stretched_on_a_wide_screen(new_context):
    page = new_context(viewport={"width": 1366, "height": 768}).new_page()
    open_app(page)
    page.wait_for_function("""() => {
        const form = document.querySelector('[data-testid="stMain"] [data-testid="stForm"]');
        return form !== null && form.getBoundingClientRect().width <= 740;
    }""")  # Streamlit eases a layout change in: wait for the narrow form


def test_first_run_setup_with_the_terminal_token_then_demo_practice(page, portal):
    open_app(page)
    expect(main_area(page).get_by_role("heading", name="Welcome to Practice Portal")
           ).to_be_visible()
    # The token is printed in the terminal that started the server.
    token = portal.wait_for_output(r"first-run setup token: (\S+)").group(1)
    support.screenshot(page, "first-run-setup")

    _fill_setup(page, "not-the-token")
    click_button(page, "Create administrator")
    expect(main_area(page).get_by_text("Setup token is not right")).to_be_visible()

    _fill_setup(page, token)
    expect(page.get_by_role("checkbox", name="Load demo practice")).to_be_checked()
    click_button(page, "Create administrator")
    expect(main_area(page).get_by_text("Demo practice ready")).to_be_visible()
    expect(main_area(page).get_by_text(f"Administrator {ADMIN['Username']} created")
           ).to_be_visible()
    assert not (portal.data_dir / "setup_token.txt").exists()  # used up

    click_button(page, "Go to sign in")
    sign_in(page, ADMIN["Username"], ADMIN_PASSWORD)
    expect_signed_in(page, ADMIN["Full name"])
    expect(sidebar(page).get_by_label("Practice", exact=True)).to_have_value("Demo Pediatrics")


def test_admin_sees_every_page(page):
    open_app(page)
    sign_in(page, ADMIN["Username"], ADMIN_PASSWORD)
    expect_signed_in(page, ADMIN["Full name"])
    for path, (title, shot) in ADMIN_PAGES.items():
        open_app(page, path)
        expect(main_area(page).get_by_role("heading", name=title, exact=True)).to_be_visible()
        expect(page.get_by_role("dialog")).to_have_count(0)  # no "Page not found"
        expect(main_area(page).get_by_test_id("stException")).to_have_count(0)
        support.screenshot(page, shot)


def test_server_log_holds_no_password(portal):
    support.assert_absent_from_log(portal, {"admin password": ADMIN_PASSWORD})
