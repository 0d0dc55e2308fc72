"""The login gate in a real browser: the cookie keeps a session across a refresh, logout ends
it, the lockout message, switching practice, and admin URLs typed by a staff user."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest
from playwright.sync_api import expect

from models import Role
from services.auth import create_user
from services.practices import create_practice
from tests.e2e import support
from tests.e2e.support import (
    choose_option,
    expect_signed_in,
    expect_signed_out,
    main_area,
    open_app,
    reload_app,
    sidebar,
    sign_in,
    sign_out,
)

pytestmark = pytest.mark.e2e

COOKIE = "practice_portal_auth"
EXPIRY_DAYS = 3
USERS = {
    # username: (name, role, password, practices)
    "ada.admin": ("Ada Admin", Role.admin, "admin-pass-Quokka-42", ["Sunny Peds", "Lakeside Kids"]),
    "sam.staff": ("Sam Staff", Role.staff, "staff-pass-Narwhal-17", ["Sunny Peds"]),
    "lee.locked": ("Lee Lockout", Role.staff, "lockout-pass-Ibis-93", ["Sunny Peds"]),
}
WRONG_PASSWORD = "not-the-password-Yak-55"
# Every admin page by the URL a user could type, with the title that page shows.
ADMIN_URLS = {
    "/staff_users": "Staff Users",
    "/audit_log": "Audit Log",
    "/outbox": "Outbox",
    "/import_schedule": "Import Schedule",
    "/practice_settings": "Practice Settings",
    "/enrollment": "Enrollment",
}


@pytest.fixture(scope="module")
def portal_seed():
    def fill(session):
        practices = {
            name: create_practice(session, name=name, timezone=zone, actor="e2e")
            for name, zone in (("Sunny Peds", "America/New_York"),
                               ("Lakeside Kids", "America/Chicago"))
        }
        for username, (name, role, password, member_of) in USERS.items():
            create_user(session, username=username, name=name, email=f"{username}@example.org",
                        role=role, password=password, actor="e2e",
                        practice_ids=[practices[p].id for p in member_of])
    return fill


@pytest.fixture(scope="module")
def portal_env():
    return {"PORTAL_SESSION_EXPIRY_DAYS": str(EXPIRY_DAYS)}


def _signed_in_as(page, username: str) -> None:
    name, _, password, _ = USERS[username]
    open_app(page)
    sign_in(page, username, password)
    expect_signed_in(page, name)


def _auth_cookie(context) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == COOKIE), None)


def test_refresh_keeps_the_session_and_logout_ends_it(new_context, portal):
    # A browser far from the server's timezone: the cookie's expiry must still be right.
    context = new_context(timezone_id="Pacific/Kiritimati")
    page = context.new_page()
    _signed_in_as(page, "sam.staff")
    expect(main_area(page).get_by_role("heading", name="Dashboard")).to_be_visible()
    support.screenshot(page, "dashboard-staff")

    reload_app(page)
    expect_signed_in(page, "Sam Staff")
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)

    # The cookie lives as long as PORTAL_SESSION_EXPIRY_DAYS says, and so does its token.
    cookie = _auth_cookie(context)
    assert cookie is not None
    wanted = dt.datetime.now(dt.UTC) + dt.timedelta(days=EXPIRY_DAYS)
    assert abs(cookie["expires"] - wanted.timestamp()) < 3600
    claims = jwt.decode(cookie["value"], options={"verify_signature": False})
    assert claims["username"] == "sam.staff"
    assert abs(claims["exp_date"] - wanted.timestamp()) < 3600

    sign_out(page)
    expect_signed_out(page)
    reload_app(page)
    expect_signed_out(page)
    assert _auth_cookie(context) is None


def test_lockout_message_after_five_wrong_passwords(page):
    open_app(page)
    support.screenshot(page, "sign-in")
    for _ in range(5):
        sign_in(page, "lee.locked", WRONG_PASSWORD)
        expect(main_area(page).get_by_text("Username or password is incorrect.")).to_be_visible()
    # Even the right password is refused now, with a message that says why.
    sign_in(page, "lee.locked", USERS["lee.locked"][2])
    expect(main_area(page).get_by_text("Too many failed sign-ins for this username")
           ).to_be_visible()
    support.screenshot(page, "sign-in-locked")
    expect_signed_out(page)


def test_switching_practice_is_kept_while_moving_between_pages(page):
    _signed_in_as(page, "ada.admin")
    selector = sidebar(page).get_by_label("Practice", exact=True)
    expect(selector).to_have_value("Lakeside Kids")  # the first by name
    choose_option(page, "Practice", "Sunny Peds", scope=sidebar(page))
    expect(sidebar(page).get_by_label("Practice", exact=True)).to_have_value("Sunny Peds")
    with support.rerun(page):
        page.get_by_role("link", name="Register Patient").click()
    expect(main_area(page).get_by_role("heading", name="Register Patient")).to_be_visible()
    expect(sidebar(page).get_by_label("Practice", exact=True)).to_have_value("Sunny Peds")


def test_staff_typing_an_admin_url_gets_no_admin_content(page):
    _signed_in_as(page, "sam.staff")
    for path, title in ADMIN_URLS.items():
        # A typed URL is a new page load: the cookie signs the staff user in again.
        open_app(page, path)
        expect_signed_in(page, "Sam Staff")
        # The navigation does not know the page for this role: Streamlit runs the default page
        # instead. (Its "Page not found" dialog is not checked: a rerun that a component's first
        # value triggers right after the page load can close it before the check looks.)
        expect(main_area(page).get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(main_area(page).get_by_role("heading", name=title)).to_have_count(0)
        expect(page.get_by_role("link", name=title)).to_have_count(0)


def test_server_log_holds_no_password(portal):
    support.assert_absent_from_log(portal, {
        **{f"password of {u}": USERS[u][2] for u in USERS},
        "wrong password": WRONG_PASSWORD,
    })
