"""The security rules that only a running server and a browser can show: the cookie key's
strength at start-up, the session cookie's expiry, XSRF protection, errors without details,
and a server log without passwords."""

from __future__ import annotations

import datetime as dt
import secrets

import jwt
import pytest
from playwright.sync_api import expect
from sqlalchemy import text
from sqlmodel import select

from models import Role, StaffPractice, StaffUser
from services import db
from services.auth import create_user
from services.practices import create_practice
from services.sessions import create_session
from tests.e2e import support
from tests.e2e.support import (
    click_button,
    expect_signed_in,
    expect_signed_out,
    fill,
    main_area,
    open_app,
    reload_app,
    sign_in,
    sign_out,
    type_date,
)
from tests.factories import make_enrollment, make_patient

pytestmark = pytest.mark.e2e

COOKIE = "practice_portal_auth"
COOKIE_KEY = secrets.token_urlsafe(48)
ADMIN = ("ada.admin", "Ada Admin", "admin-pass-Tapir-38")
DESK = ("dee.desk", "Dee Desk", "desk-pass-Heron-27")


CHILD_BIRTH = dt.date(2018, 4, 2)
LINKS: dict[str, tuple[int, str]] = {}  # enrollment name -> (practice id, link token)


@pytest.fixture(scope="module")
def portal_seed():
    def fill(session):
        practice = create_practice(session, name="Sunny Peds", timezone="America/New_York",
                                   actor="e2e")
        create_user(session, username=ADMIN[0], name=ADMIN[1], email="ada@example.org",
                    role=Role.admin, password=ADMIN[2], actor="e2e", practice_ids=[practice.id])
        create_user(session, username=DESK[0], name=DESK[1], email="dee@example.org",
                    role=Role.staff, password=DESK[2], actor="e2e", practice_ids=[practice.id])
        for name in ("first", "second"):
            patient = make_patient(session, practice, date_of_birth=CHILD_BIRTH)
            enrollment = make_enrollment(session, practice, patient=patient)
            LINKS[name] = (practice.id, enrollment.link_token)
    return fill


@pytest.fixture(scope="module")
def portal_env():
    # A known key, so that a test can sign cookies the way the server does; a small
    # activation limit for the throttle test (no other test here activates).
    return {"PORTAL_COOKIE_KEY": COOKIE_KEY, "PORTAL_ACTIVATION_CLIENT_LIMIT": "2"}


def _wrong_activation(page, link: str) -> None:
    practice_id, token = LINKS[link]
    open_app(page, f"/activate?practice={practice_id}&token={token}")
    form = main_area(page).get_by_test_id("stForm")
    fill(page, "PIN", "22222-22222", scope=form)
    type_date(page, "Child's date of birth", CHILD_BIRTH, scope=form)
    fill(page, "Email address", "parent@example.org", scope=form)
    fill(page, "Password", "tulip orchard sunrise 42", scope=form)
    fill(page, "Repeat password", "tulip orchard sunrise 42", scope=form)
    click_button(page, "Activate account", scope=form)


def test_the_activation_throttle_survives_new_sessions_and_forged_headers(new_context, portal):
    # Two wrong tries use up this address's allowance (PORTAL_ACTIVATION_CLIENT_LIMIT=2).
    first = new_context().new_page()
    for _ in range(2):
        _wrong_activation(first, "first")
        expect(main_area(first).get_by_text("do not match our records")).to_be_visible()
    # A fresh browser profile (a new websocket session) with a forged X-Forwarded-For, on
    # another child's link: the server trusts no proxy, so it is the same address to it.
    forged = new_context(extra_http_headers={"X-Forwarded-For": "198.51.100.77"}).new_page()
    _wrong_activation(forged, "second")
    expect(main_area(forged).get_by_text("Too many tries from this device")).to_be_visible()


def test_a_short_cookie_key_stops_start_up_with_a_clear_message(page, tmp_path):
    # A server of its own on SQLite in both passes: the module's server keeps the PostgreSQL
    # schema, and the key check does not depend on the database.
    weak = support.start_server(
        name="weak-cookie-key", data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'portal.db'}",
        extra_env={"PORTAL_COOKIE_KEY": "short-key"},
    )
    try:
        open_app(page, weak.url)
        main = main_area(page)
        expect(main.get_by_text("PORTAL_COOKIE_KEY must be at least 32 bytes")).to_be_visible()
        expect(page.get_by_label("Password", exact=True)).to_have_count(0)
        expect(page.get_by_label("Setup token", exact=True)).to_have_count(0)
        assert "short-key" not in main.inner_text()
    finally:
        weak.stop()


def _live_session_id(portal, username: str = ADMIN[0]) -> str:
    """Open a server-side session in the server's database, as a sign-in would."""
    engine = db.build_engine(portal.database_url)
    try:
        with db.session_scope(engine=engine) as session:
            user_id = session.exec(
                select(StaffUser.id).where(StaffUser.username == username)).one()
            return create_session(session, user_id=user_id)
    finally:
        engine.dispose()


def _session_cookie(portal, *, username: str, exp_date: dt.datetime, key: str = COOKIE_KEY,
                    session_id: str | None = None):
    payload = {"username": username, "exp_date": exp_date.timestamp()}
    if session_id:
        payload["sid"] = session_id
    token = jwt.encode(payload, key, algorithm="HS256")
    return {"name": COOKIE, "value": token, "url": portal.url}


def test_a_session_cookie_past_its_expiry_does_not_sign_in(page, context, portal):
    now = dt.datetime.now(dt.UTC)
    session_id = _live_session_id(portal)
    context.add_cookies([_session_cookie(portal, username=ADMIN[0], session_id=session_id,
                                         exp_date=now - dt.timedelta(minutes=1))])
    open_app(page)
    expect_signed_out(page)

    # The same cookie before its expiry does sign in: the refusal above was the expiry. The
    # refused page is left first: its cookie component deletes the refused cookie, and doing
    # so late would delete the new one.
    page.goto("about:blank")
    context.clear_cookies()
    context.add_cookies([_session_cookie(portal, username=ADMIN[0], session_id=session_id,
                                         exp_date=now + dt.timedelta(hours=1))])
    open_app(page)
    expect_signed_in(page, ADMIN[1])


def test_a_well_signed_cookie_without_a_live_session_does_not_sign_in(page, context, portal):
    # What every cookie written before server-side sessions looks like: signed, in date, but
    # naming no session. Such sign-ins end once with the upgrade.
    context.add_cookies([_session_cookie(
        portal, username=ADMIN[0], exp_date=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))])
    open_app(page)
    expect_signed_out(page)
    context.clear_cookies()
    context.add_cookies([_session_cookie(
        portal, username=ADMIN[0], exp_date=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        session_id="made-up-session-id")])
    reload_app(page)
    expect_signed_out(page)


def _cookie_value(context) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == COOKIE), None)


def _wait_for_cookie(page, context, *, present: bool) -> str | None:
    # The cookie is written by a component in the page, shortly after the run that asks for it.
    for _ in range(100):
        value = _cookie_value(context)
        if bool(value) == present:
            return value
        page.wait_for_timeout(100)  # polling the browser's cookie jar for a condition
    raise AssertionError(f"the sign-in cookie is {'missing' if present else 'still there'}")


def test_the_cookie_of_a_signed_out_session_no_longer_signs_in(page, context, new_context,
                                                                portal):
    open_app(page)
    sign_in(page, ADMIN[0], ADMIN[2])
    expect_signed_in(page, ADMIN[1])
    stolen = _wait_for_cookie(page, context, present=True)
    assert "sid" in jwt.decode(stolen, COOKIE_KEY, algorithms=["HS256"])
    sign_out(page)
    reload_app(page)
    expect_signed_out(page)
    _wait_for_cookie(page, context, present=False)  # the browser dropped it

    # A copy taken before the logout (another machine, a backup of the profile) is refused.
    elsewhere = new_context()
    elsewhere.add_cookies([{"name": COOKIE, "value": stolen, "url": portal.url}])
    other_page = elsewhere.new_page()
    open_app(other_page)
    expect_signed_out(other_page)


def test_a_password_reset_ends_the_users_open_tab_and_cookie(page, context, new_context,
                                                             portal):
    from services.staff_users import reset_user_password

    open_app(page)
    sign_in(page, DESK[0], DESK[2])
    expect_signed_in(page, DESK[1])
    copied = _wait_for_cookie(page, context, present=True)

    engine = db.build_engine(portal.database_url)
    try:
        with db.session_scope(engine=engine) as session:
            ids = dict(session.exec(select(StaffUser.username, StaffUser.id)).all())
            practice_id = session.exec(select(StaffPractice.practice_id).where(
                StaffPractice.staff_user_id == ids[DESK[0]])).first()
            reset_user_password(session, actor_id=ids[ADMIN[0]], practice_id=practice_id,
                                user_id=ids[DESK[0]], password="a-brand-new-Secret-91")
    finally:
        engine.dispose()

    # The open tab finds out by itself (its periodic check), or at the next click at the latest.
    expect(page.get_by_label("Password", exact=True)).to_be_visible(timeout=60_000)
    expect_signed_out(page)
    # The cookie it had signs nobody in anywhere.
    elsewhere = new_context()
    elsewhere.add_cookies([{"name": COOKIE, "value": copied, "url": portal.url}])
    other_page = elsewhere.new_page()
    open_app(other_page)
    expect_signed_out(other_page)


IDLE_ADMIN = ("ida.idle", "Ida Idle", "idle-pass-Walrus-52")


def test_an_open_tab_left_alone_is_signed_out_and_shows_the_sign_in_form(page, tmp_path):
    from tests.e2e.conftest import seed_database

    database_url = f"sqlite:///{tmp_path / 'portal.db'}"

    def fill(session):
        practice = create_practice(session, name="Idle Peds", timezone="America/New_York",
                                   actor="e2e")
        create_user(session, username=IDLE_ADMIN[0], name=IDLE_ADMIN[1],
                    email="ida@example.org", role=Role.admin, password=IDLE_ADMIN[2],
                    actor="e2e", practice_ids=[practice.id])

    seed_database(database_url, fill, tmp_path / "data")
    idle = support.start_server(
        name="idle-sign-out", data_dir=tmp_path / "data", database_url=database_url,
        extra_env={"PORTAL_SESSION_IDLE_MINUTES": "0.15"},  # 9 seconds
    )
    try:
        page.goto(idle.url)
        support.wait_for_app_run(page)
        sign_in(page, IDLE_ADMIN[0], IDLE_ADMIN[2])
        expect_signed_in(page, IDLE_ADMIN[1])
        expect(main_area(page).get_by_text("Dashboard").first).to_be_visible()
        # Nobody touches the tab: it signs itself out and replaces the page.
        expect(page.get_by_text("Your session ended")).to_be_visible(timeout=60_000)
        expect_signed_out(page)
        expect(main_area(page).get_by_text("Dashboard")).to_have_count(0)
    finally:
        idle.stop()


def test_a_session_cookie_signed_with_another_key_does_not_sign_in(page, context, portal):
    context.add_cookies([_session_cookie(
        portal, username=ADMIN[0], exp_date=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        key=secrets.token_urlsafe(48))])
    open_app(page)
    expect_signed_out(page)


def test_xsrf_protection_is_on(page, context, portal):
    open_app(page)
    token = next((c["value"] for c in context.cookies() if c["name"] == "_streamlit_xsrf"), None)
    assert token, "the server set no _streamlit_xsrf cookie"
    # A state-changing request without the token is refused before anything else is looked at;
    # the same request with the browser's token gets past that check (to "no such session").
    url = f"{portal.url}/_stcore/upload_file/no-such-session/no-such-file"
    upload = {"file": {"name": "x.csv", "mimeType": "text/csv", "buffer": b"a,b\n"}}
    refused = page.request.put(url, multipart=upload)
    assert refused.status == 403
    accepted = page.request.put(url, multipart=upload, headers={"X-Xsrftoken": token})
    assert accepted.status == 400


def test_an_unexpected_error_shows_no_details_to_the_user(page, portal):
    open_app(page)
    sign_in(page, ADMIN[0], ADMIN[2])
    expect_signed_in(page, ADMIN[1])
    # Break the database under the running app: every signed-in run now fails in a query.
    engine = db.build_engine(portal.database_url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE staffpractice RENAME TO staffpractice_away"))
    try:
        reload_app(page)
        expect(page.get_by_test_id("stException")).to_be_visible()
        support.screenshot(page, "error-without-details")
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE staffpractice_away RENAME TO staffpractice"))
        engine.dispose()
    shown = page.get_by_test_id("stApp").inner_text()
    links = " ".join(link.get_attribute("href") or "" for link in
                     page.get_by_test_id("stException").get_by_role("link").all())
    for detail in ("Traceback", "staffpractice", "sqlalchemy", "SELECT", ".py", "/work/"):
        assert detail not in shown, f"{detail!r} shown to the user"
        assert detail not in links, f"{detail!r} in a link of the error box"
    # The operator finds the details in the server's log instead.
    assert "staffpractice" in portal.output()


def test_server_log_holds_no_password(portal):
    support.assert_absent_from_log(portal, {"admin password": ADMIN[2],
                                            "cookie key": COOKIE_KEY})
