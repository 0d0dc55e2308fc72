"""The frame: login gate, first-run setup, navigation by role, the Practice selector."""

from __future__ import annotations

import pytest

from models import Role
from services import setup
from tests.factories import make_practice, make_user
from tests.pages.helpers import app_test, open_session, signed_in, texts

ALL_PAGES = {
    "Dashboard", "Register Patient", "Enrollment", "Import Schedule", "Outbox", "Staff Users",
    "Practice Settings", "Audit Log", "Text Opt-Outs",
}
ROLE_TITLES = {
    Role.staff: {"Dashboard", "Register Patient"},
    Role.supervisor: {"Dashboard", "Enrollment"},
    Role.admin: ALL_PAGES,
}
PAGE_FILES = {
    "Dashboard": "pages/dashboard.py",
    "Register Patient": "pages/register.py",
    "Enrollment": "pages/enrollment.py",
    "Import Schedule": "pages/import_schedule.py",
    "Outbox": "pages/outbox.py",
    "Staff Users": "pages/staff_users.py",
    "Practice Settings": "pages/practice_settings.py",
    "Audit Log": "pages/audit_log.py",
    "Text Opt-Outs": "pages/text_opt_outs.py",
}


def _signed_in(at) -> bool:
    return "authentication_status" in at.session_state and bool(
        at.session_state["authentication_status"])


@pytest.fixture
def practice_and_users(session):
    practice = make_practice(session, name="Sunny Peds")
    other = make_practice(session, name="Other Peds")
    users = {role: make_user(session, role=role, practices=[practice], username=f"u-{role}")
             for role in Role}
    session.commit()
    return practice, other, users


def test_no_user_shows_first_run_setup(database_url, data_dir):
    at = app_test().run()
    assert not at.exception
    assert "Welcome to Practice Portal" in texts(at)
    assert setup.token_path(data_dir).exists()
    assert [w.label for w in at.text_input][0] == "Setup token"


def test_logged_out_shows_only_the_login(practice_and_users):
    at = app_test().run()
    assert not at.exception
    labels = [w.label for w in at.text_input]
    assert labels == ["Username", "Password"]
    assert "Dashboard" not in texts(at)
    assert not at.sidebar.selectbox  # no Practice selector before login


def test_wrong_password_says_so(practice_and_users):
    at = app_test().run()
    at.text_input[0].input("u-staff")
    at.text_input[1].input("wrong-password-123")
    at.button[0].click().run()
    assert "Username or password is incorrect." in texts(at)


def test_right_password_signs_in(practice_and_users):
    at = app_test().run()
    at.text_input[0].input("u-staff")
    at.text_input[1].input("correct-horse-battery")
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["authentication_status"] is True
    assert at.sidebar.selectbox[0].label == "Practice"


def test_lockout_message_after_five_failures(practice_and_users):
    at = app_test().run()
    for _ in range(5):
        at.text_input[0].input("u-staff")
        at.text_input[1].input("wrong-password-123")
        at.button[0].click().run()
    at.text_input[0].input("u-staff")
    at.text_input[1].input("correct-horse-battery")
    at.button[0].click().run()
    assert "Too many failed sign-ins for this username" in texts(at)
    assert not _signed_in(at)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_exactly_its_pages(practice_and_users, role):
    practice, _, users = practice_and_users
    at = signed_in(users[role].username)
    assert not at.exception
    for title, path in PAGE_FILES.items():
        if title in ROLE_TITLES[role]:
            at.switch_page(path).run()
            assert not at.exception
            assert "You do not have access to this page." not in texts(at), (role, title)
        else:
            # Not registered in this role's navigation: there is no way to switch to it.
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(path)


def test_practice_selector_offers_only_the_users_practices(practice_and_users):
    practice, other, users = practice_and_users
    at = signed_in(users[Role.staff].username)
    selector = at.sidebar.selectbox[0]
    assert selector.label == "Practice"
    assert selector.options == ["Sunny Peds"]


def test_another_practice_in_session_state_is_refused(practice_and_users):
    practice, other, users = practice_and_users
    at = signed_in(users[Role.admin].username, practice_id=other.id)
    # The selector falls back to a practice of the user's own; never the other one.
    assert at.session_state["practice_id"] == practice.id


def test_disabled_user_is_signed_out(session, practice_and_users):
    practice, _, users = practice_and_users
    user = users[Role.staff]
    user.disabled = True
    session.add(user)
    session.commit()
    at = signed_in(user.username)
    assert not _signed_in(at)
    assert [w.label for w in at.text_input] == ["Username", "Password"]


@pytest.mark.parametrize("title", sorted(ALL_PAGES))
def test_every_page_renders_without_exception(practice_and_users, title):
    practice, _, users = practice_and_users
    at = signed_in(users[Role.admin].username)
    at.switch_page(PAGE_FILES[title]).run()
    assert not at.exception, at.exception


def _signed_in_with_query(username: str, **query: str):
    at = open_session(app_test(), username)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def test_practice_named_in_the_link_is_selected_for_a_member(session, practice_and_users):
    practice, other, users = practice_and_users
    user = make_user(session, role=Role.staff, practices=[practice, other], username="two-desk")
    session.commit()
    at = _signed_in_with_query(user.username, practice=str(other.id))
    assert at.session_state["practice_id"] == other.id
    assert at.sidebar.selectbox[0].value == other.id


def test_practice_named_in_the_link_is_ignored_for_a_non_member(practice_and_users):
    practice, other, users = practice_and_users
    at = _signed_in_with_query(users[Role.staff].username, practice=str(other.id))
    assert at.session_state["practice_id"] == practice.id


def test_the_locked_refusal_is_audited(practice_and_users):
    from sqlmodel import select

    from models import AuditEvent
    from services.db import session_scope

    at = app_test().run()
    for password in ["wrong-password-123"] * 5 + ["correct-horse-battery"]:
        at.text_input[0].input("u-staff")
        at.text_input[1].input(password)
        at.button[0].click().run()
    assert "Too many failed sign-ins for this username" in texts(at)
    with session_scope(read_only=True) as session:
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.actor == "u-staff")).all()
    assert "login_refused_locked" in actions


@pytest.mark.parametrize(("role", "portal_url", "warned"), [
    (Role.admin, "http://localhost:8501", True),
    (Role.admin, "http://127.0.0.1:8501", True),
    (Role.admin, "https://portal.sunnypeds.example", False),
    (Role.staff, "http://localhost:8501", False),
])
def test_admins_are_warned_while_links_point_at_localhost(session, role, portal_url, warned):
    practice = make_practice(session, name="Loop Peds", portal_url=portal_url)
    make_user(session, role=role, practices=[practice], username="loop.user")
    session.commit()
    at = signed_in("loop.user", practice_id=practice.id)
    assert not at.exception, at.exception
    shown = " ".join(str(warning.value) for warning in at.warning)
    assert ("Loop Peds point to this server itself" in shown) == warned


def test_the_parents_activation_page_never_shows_the_admin_warning(session):
    practice = make_practice(session, name="Loop Peds", portal_url="http://localhost:8501")
    make_user(session, role=Role.admin, practices=[practice], username="loop.admin")
    session.commit()
    at = signed_in("loop.admin", practice_id=practice.id)
    assert "Loop Peds point to this server itself" in " ".join(str(w.value) for w in at.warning)
    at.switch_page("pages/activate.py")
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Activate Portal Account"
    assert not [w for w in at.warning if "point to this server itself" in str(w.value)]
