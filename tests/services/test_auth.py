"""services/auth.py and the keys in services/settings.py."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from models import AuditEvent, Role, StaffUser
from services import auth, signin
from services.errors import Conflict, InvalidInput, NotFound
from services.settings import WeakKeyError, cookie_key, get_settings
from tests.factories import PASSWORD, make_practice, make_user

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _login(session, username, password, now=T0):
    """A sign-in through services/signin.py (the app's path) from one new computer."""
    session.commit()
    result = signin.sign_in(username=username, password=password, client="ip:192.0.2.1",
                            now=now)
    session.expire_all()
    return result.ok


def test_right_password_logs_in(session):
    user = make_user(session)
    assert _login(session, user.username, PASSWORD) is True


def test_wrong_password_does_not(session):
    user = make_user(session)
    assert _login(session, user.username, "not-the-password") is False


def test_unknown_user_does_not(session):
    assert _login(session, "nobody", PASSWORD) is False


def test_username_is_case_insensitive(session):
    user = make_user(session, username="mixed.case")
    assert _login(session, "Mixed.Case", PASSWORD) is True
    del user


def test_five_failures_pause_the_username_for_fifteen_minutes(session):
    user = make_user(session)
    for minute in range(5):
        assert _login(session, user.username, "wrong", T0 + dt.timedelta(minutes=minute)) is False
    locked_at = T0 + dt.timedelta(minutes=4)
    assert _login(session, user.username, PASSWORD, locked_at + dt.timedelta(minutes=14)) is False
    assert _login(session, user.username, PASSWORD, locked_at + dt.timedelta(minutes=15)) is True
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.actor == user.username)).all()
    assert "login_locked" in actions and "login_refused_locked" in actions


def test_four_failures_then_success_reset_the_count(session):
    user = make_user(session)
    for _ in range(4):
        _login(session, user.username, "wrong")
    assert _login(session, user.username, PASSWORD) is True
    for _ in range(4):
        _login(session, user.username, "wrong")
    assert _login(session, user.username, PASSWORD) is True  # never 5 in a row


def test_disabled_user_cannot_log_in(session):
    user = make_user(session, disabled=True)
    assert _login(session, user.username, PASSWORD) is False


def test_disabled_user_is_left_out_of_the_credentials(session):
    enabled = make_user(session)
    disabled = make_user(session, disabled=True)
    credentials = auth.load_credentials(session)["usernames"]
    assert enabled.username in credentials
    assert disabled.username not in credentials
    assert credentials[enabled.username]["password"].startswith("$2")


def test_create_user_hashes_and_audits(session):
    practice = make_practice(session, name="Peds One")
    user = auth.create_user(session, username="Carol", name="Carol C", email="carol@example.com",
                            role="staff", password="a-long-password", practice_names=["Peds One"],
                            actor="test")
    row = session.exec(select(StaffUser).where(StaffUser.username == "carol")).one()
    assert row.password_hash != "a-long-password" and auth.check_password("a-long-password",
                                                                          row.password_hash)
    assert [p.name for p in auth.user_practices(session, user_id=user.id)] == [practice.name]
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "user_created")).first()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"role": "root"}, InvalidInput),
        ({"password": ""}, InvalidInput),
        ({"password": "short"}, InvalidInput),
        ({"email": "not-an-email"}, InvalidInput),
        ({"practice_names": ["No Such Practice"]}, NotFound),
        ({"username": ""}, InvalidInput),
    ],
)
def test_create_user_refuses_bad_input(session, changes, error):
    arguments = {"username": "dave", "name": "Dave", "email": "dave@example.com",
                 "role": "staff", "password": "a-long-password", "actor": "test"}
    arguments.update(changes)
    with pytest.raises(error):
        auth.create_user(session, **arguments)


def test_create_user_refuses_a_duplicate(session):
    make_user(session, username="erin")
    with pytest.raises(Conflict):
        auth.create_user(session, username="ERIN", name="Erin", email="e@example.com",
                         role="staff", password="a-long-password", actor="test")


def test_user_practices_are_only_the_users(session):
    mine, theirs = make_practice(session), make_practice(session)
    user = make_user(session, role=Role.admin, practices=[mine])
    make_user(session, practices=[theirs])
    assert [p.id for p in auth.user_practices(session, user_id=user.id)] == [mine.id]


def test_cookie_key_is_generated_once_and_stable(data_dir):
    first = cookie_key()
    assert len(first.encode()) >= 32
    assert (data_dir / "cookie_key.key").read_text().strip() == first
    get_settings.cache_clear()
    assert cookie_key() == first  # a restart reads the same key back


def test_short_configured_cookie_key_is_refused(data_dir, monkeypatch):
    monkeypatch.setenv("PORTAL_COOKIE_KEY", "too-short")
    get_settings.cache_clear()
    with pytest.raises(WeakKeyError, match="at least 32 bytes"):
        cookie_key()


def test_long_configured_cookie_key_is_used(data_dir, monkeypatch):
    monkeypatch.setenv("PORTAL_COOKIE_KEY", "k" * 40)
    get_settings.cache_clear()
    assert cookie_key() == "k" * 40
    assert not (data_dir / "cookie_key.key").exists()


@pytest.mark.parametrize("content", ["", "short-key"])
def test_an_empty_or_short_key_file_is_replaced_by_a_strong_key(data_dir, content):
    (data_dir / "cookie_key.key").write_text(content)
    key = cookie_key()
    assert len(key.encode()) >= 32
    assert (data_dir / "cookie_key.key").read_text().strip() == key


def test_a_failed_login_for_an_unknown_user_does_not_store_what_was_typed(session):
    _login(session, "correct-horse-typed-as-username", "x")
    actors = session.exec(select(AuditEvent.actor).where(AuditEvent.action == "login_failed")).all()
    assert actors == ["?"]
