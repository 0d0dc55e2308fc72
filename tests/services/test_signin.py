"""Staff sign-in: the bcrypt check outside any transaction, throttles per username and per
client address that a stranger cannot use to keep a desk out, the same answer for unknown and
known usernames."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlmodel import select

from models import AuditEvent, Practice, Role, StaffSession, StaffUser, utcnow
from services import signin
from services.db import session_scope
from services.sessions import create_session
from tests.factories import PASSWORD, make_practice, make_user

DESK, STRANGER = "ip:10.0.0.5", "ip:203.0.113.9"
WRONG = "wrong-password-123"


@pytest.fixture
def desk(session):
    practice = make_practice(session)
    user = make_user(session, role=Role.staff, practices=[practice], username="desk")
    session.commit()
    return user


def _try(username: str, password: str, client: str = STRANGER, now=None):
    return signin.sign_in(username=username, password=password, client=client, now=now)


def test_a_correct_password_opens_a_session_for_that_client(session, desk):
    result = _try("Desk ", PASSWORD, client=DESK)
    assert result.ok and result.username == "desk" and result.session_id
    row = session.exec(select(StaffSession)).one()
    assert row.staff_user_id == desk.id and row.client == DESK


def test_unknown_and_known_usernames_get_the_same_answer_and_the_same_work(desk, monkeypatch):
    checks = []
    real = signin.check_password
    monkeypatch.setattr(signin, "check_password",
                        lambda password, hashed: checks.append(hashed) or real(password, hashed))
    known, unknown = _try("desk", WRONG), _try("nobody", WRONG)
    assert not known.ok and not unknown.ok
    assert known.message == unknown.message == signin.REFUSED
    assert len(checks) == 2  # one bcrypt check each
    # Paused names answer alike too, after the same number of misses.
    for _ in range(5):
        known, unknown = _try("desk", WRONG, client="ip:1"), _try("nobody", WRONG, client="ip:2")
    assert not known.ok and not unknown.ok
    assert len(checks) == 10  # four more each: the fifth miss of each name paused it
    known, unknown = _try("desk", WRONG, client="ip:1"), _try("nobody", WRONG, client="ip:2")
    assert known.message == unknown.message
    assert "Too many failed sign-ins for this username" in known.message
    assert len(checks) == 10  # a paused name costs no check, known or not


def test_the_password_check_holds_no_database_lock(desk, monkeypatch):
    """Another desk's write goes through while a sign-in's bcrypt check is running."""
    real = signin.check_password
    finished = threading.Event()

    def write_elsewhere():
        with session_scope() as other:
            user = other.exec(select(StaffUser).where(StaffUser.username == "desk")).one()
            user.name = "Renamed while signing in"
            other.add(user)
            other.add(Practice(name="Written meanwhile"))
        finished.set()

    def check_while_another_desk_writes(password, hashed):
        writer = threading.Thread(target=write_elsewhere, daemon=True)
        writer.start()
        # Generous: a writer blocked behind a transaction waits for the busy timeout (15 s).
        writer.join(timeout=10)
        return real(password, hashed)

    monkeypatch.setattr(signin, "check_password", check_while_another_desk_writes)
    assert not _try("desk", WRONG).ok
    assert finished.is_set(), "the write waited for the sign-in's transaction"


def test_after_five_misses_the_username_pauses_and_the_pause_doubles(session, desk):
    now = utcnow()
    for _ in range(5):
        assert _try("desk", WRONG, now=now).message == signin.REFUSED
    refused = _try("desk", PASSWORD, now=now)
    assert not refused.ok and "Try again in 15 minute(s)" in refused.message
    # The pause is over after 15 minutes; the next miss pauses for 30.
    later = now + dt.timedelta(minutes=15, seconds=1)
    assert _try("desk", WRONG, now=later).message == signin.REFUSED
    assert "Try again in 30 minute(s)" in _try("desk", PASSWORD, now=later).message
    assert signin.pause_after(4) == dt.timedelta(0)
    assert signin.pause_after(7) == dt.timedelta(minutes=60)
    assert signin.pause_after(40) == dt.timedelta(days=1)
    actions = session.exec(select(AuditEvent.action)).all()
    assert "login_locked" in actions and "login_refused_locked" in actions


def test_a_stranger_cannot_keep_a_desk_out(session, desk):
    now = utcnow()
    with session_scope() as other:  # the desk signed in from its own computer before
        create_session(other, user_id=desk.id, client=DESK, now=now - dt.timedelta(days=3))
    for _ in range(8):
        _try("desk", WRONG, client=STRANGER, now=now)
    assert not _try("desk", PASSWORD, client=STRANGER, now=now).ok
    assert _try("desk", PASSWORD, client=DESK, now=now).ok  # the desk's computer still works
    # ... but a wrong password from the desk's computer is refused, as always.
    assert not _try("desk", WRONG, client=DESK, now=now).ok


def test_an_administrator_unlock_ends_the_pause(session, desk):
    from services.staff_users import unlock_user

    practice = session.exec(select(Practice)).first()
    boss = make_user(session, role=Role.admin, practices=[practice], username="boss")
    session.commit()
    for _ in range(5):
        _try("desk", WRONG)
    assert not _try("desk", PASSWORD).ok
    with session_scope() as other:
        unlock_user(other, actor_id=boss.id, practice_id=practice.id, user_id=desk.id)
    assert _try("desk", PASSWORD).ok


def test_an_address_with_too_many_misses_is_refused_whatever_the_username(desk, monkeypatch):
    monkeypatch.setenv("PORTAL_LOGIN_CLIENT_LIMIT", "6")
    from services.settings import get_settings
    get_settings.cache_clear()
    now = utcnow()
    for number in range(6):  # a spray over many names, none paused on its own
        _try(f"guess{number}", WRONG, client=STRANGER, now=now)
    refused = _try("desk", PASSWORD, client=STRANGER, now=now)
    assert not refused.ok and "from this computer" in refused.message
    assert _try("desk", PASSWORD, client=DESK, now=now).ok
    # The window passes, and the address may try again.
    assert _try("desk", PASSWORD, client=STRANGER, now=now + dt.timedelta(minutes=16)).ok


def test_a_disabled_user_is_refused_like_a_wrong_password(session, desk):
    desk.disabled = True
    session.add(desk)
    session.commit()
    result = _try("desk", PASSWORD)
    assert not result.ok and result.message == signin.REFUSED


def test_typed_usernames_are_not_stored(session, desk):
    _try("my-password-typed-here", WRONG)
    stored = " ".join(session.exec(select(AuditEvent.detail)).all())
    from models import RateLimit
    keys = " ".join(session.exec(select(RateLimit.key)).all())
    assert "my-password-typed-here" not in stored + keys
