"""Server-side staff sessions: random ids stored hashed, idle and absolute timeouts, revoking."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from models import AuditEvent, Role, StaffSession, utcnow
from services import sessions
from tests.factories import make_practice, make_user

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def desk(session):
    practice = make_practice(session)
    user = make_user(session, role=Role.staff, practices=[practice], username="desk")
    session.commit()
    return user


def _open(session, user, **kwargs) -> str:
    session_id = sessions.create_session(session, user_id=user.id, **kwargs)
    session.commit()
    return session_id


def test_the_session_id_is_random_and_stored_only_as_a_hash(session, desk):
    first, second = _open(session, desk, now=T0), _open(session, desk, now=T0)
    assert first != second and len(first) >= 22  # ≥ 128 bits in URL-safe base64
    stored = session.exec(select(StaffSession.token_hash)).all()
    assert first not in stored and second not in stored
    assert sessions.hash_session_id(first) in stored


def test_a_live_session_names_its_user(session, desk):
    session_id = _open(session, desk, now=T0)
    assert sessions.touch_session(session, session_id=session_id, now=T0) == "desk"
    assert sessions.touch_session(session, session_id="made-up", now=T0) is None
    assert sessions.touch_session(session, session_id=None, now=T0) is None


def test_idle_past_the_limit_ends_the_session_and_records_why(session, desk, monkeypatch):
    monkeypatch.setenv("PORTAL_SESSION_IDLE_MINUTES", "15")
    from services.settings import get_settings
    get_settings.cache_clear()
    session_id = _open(session, desk, now=T0)
    assert sessions.touch_session(session, session_id=session_id,
                                  now=T0 + dt.timedelta(minutes=14)) == "desk"
    session.commit()
    # Activity at 14 minutes moved the idle clock: 28 minutes is 14 after the last activity.
    assert sessions.touch_session(session, session_id=session_id,
                                  now=T0 + dt.timedelta(minutes=28)) == "desk"
    session.commit()
    assert sessions.touch_session(session, session_id=session_id,
                                  now=T0 + dt.timedelta(minutes=44)) is None
    session.commit()
    row = session.exec(select(StaffSession)).one()
    assert row.revoked_reason == "idle"
    # Ended for good: activity afterwards does not bring it back.
    assert sessions.touch_session(session, session_id=session_id,
                                  now=T0 + dt.timedelta(minutes=45)) is None


def test_checking_a_session_is_not_activity(session, desk):
    session_id = _open(session, desk, now=T0)
    for minute in range(1, 15):
        assert sessions.session_username(
            session, session_id=session_id, now=T0 + dt.timedelta(minutes=minute)) == "desk"
    assert sessions.session_username(
        session, session_id=session_id, now=T0 + dt.timedelta(minutes=15)) is None


def test_the_absolute_lifetime_ends_even_a_busy_session(session, desk, monkeypatch):
    monkeypatch.setenv("PORTAL_SESSION_EXPIRY_DAYS", "1")
    from services.settings import get_settings
    get_settings.cache_clear()
    session_id = _open(session, desk, now=T0)
    moment = T0
    while moment < T0 + dt.timedelta(hours=23, minutes=50):
        moment += dt.timedelta(minutes=10)
        assert sessions.touch_session(session, session_id=session_id, now=moment) == "desk"
        session.commit()
    assert sessions.touch_session(session, session_id=session_id,
                                  now=T0 + dt.timedelta(days=1)) is None
    session.commit()
    assert session.exec(select(StaffSession.revoked_reason)).one() == "expired"


def test_the_lifetime_cannot_exceed_thirty_days(monkeypatch):
    from pydantic import ValidationError

    from services.settings import Settings
    monkeypatch.setenv("PORTAL_SESSION_EXPIRY_DAYS", "31")
    with pytest.raises(ValidationError):
        Settings()


def test_logout_revokes_only_that_session_and_is_audited(session, desk):
    here, there = _open(session, desk, now=T0), _open(session, desk, now=T0)
    sessions.revoke_session(session, session_id=here, actor="desk", now=T0)
    session.commit()
    assert sessions.touch_session(session, session_id=here, now=T0) is None
    assert sessions.touch_session(session, session_id=there, now=T0) == "desk"
    assert "logout" in session.exec(select(AuditEvent.action)).all()


def test_revoking_all_of_a_users_sessions_leaves_other_users_alone(session, desk):
    practice = make_practice(session, name="Other")
    other = make_user(session, role=Role.staff, practices=[practice], username="other")
    session.commit()
    mine = [_open(session, desk, now=T0) for _ in range(3)]
    theirs = _open(session, other, now=T0)
    assert sessions.revoke_all_for_user(session, user_id=desk.id, reason="password reset",
                                        actor="boss", now=T0) == 3
    session.commit()
    assert all(sessions.touch_session(session, session_id=s, now=T0) is None for s in mine)
    assert sessions.touch_session(session, session_id=theirs, now=T0) == "other"
    assert sessions.revoke_all_for_user(session, user_id=desk.id, reason="again",
                                        actor="boss", now=T0) == 0


def test_a_disabled_users_session_no_longer_signs_in(session, desk):
    session_id = _open(session, desk, now=T0)
    desk.disabled = True
    session.add(desk)
    session.commit()
    assert sessions.touch_session(session, session_id=session_id, now=T0) is None


def test_the_admin_list_shows_only_live_sessions(session, desk):
    now = utcnow()
    live = _open(session, desk, now=now, client="ip:10.0.0.7")
    ended = _open(session, desk, now=now)
    sessions.revoke_session(session, session_id=ended, actor="desk", now=now)
    session.commit()
    listed = sessions.active_sessions(session, user_id=desk.id, now=now)
    assert [row.client for row in listed] == ["ip:10.0.0.7"]
    assert sessions.revoke_all_for_user(session, user_id=desk.id, reason="ended by an admin",
                                        actor="boss", now=now) == 1
    session.commit()
    assert sessions.touch_session(session, session_id=live, now=now) is None
    assert sessions.active_sessions(session, user_id=desk.id, now=now) == []


def test_a_client_is_known_once_the_user_signed_in_from_it(session, desk):
    assert not sessions.is_known_client(session, user_id=desk.id, client="ip:10.0.0.7")
    _open(session, desk, now=T0, client="ip:10.0.0.7")
    assert sessions.is_known_client(session, user_id=desk.id, client="ip:10.0.0.7")
    assert not sessions.is_known_client(session, user_id=desk.id, client="ip:10.0.0.8")


def test_the_read_only_check_asks_for_a_write_only_when_touch_has_one(session, desk):
    session_id = _open(session, desk, now=T0)
    soon = T0 + sessions.TOUCH_EVERY - dt.timedelta(seconds=1)
    assert sessions.live_username(session, session_id=session_id, now=soon) == ("desk", False)
    later = T0 + sessions.TOUCH_EVERY
    assert sessions.live_username(session, session_id=session_id, now=later) == ("desk", True)
    # The check itself wrote nothing: activity is still at T0.
    assert session.exec(select(StaffSession.last_seen_at)).one().replace(
        tzinfo=dt.UTC) == T0
    assert sessions.touch_session(session, session_id=session_id, now=later) == "desk"
    session.commit()
    assert sessions.live_username(session, session_id=session_id, now=later) == ("desk", False)


def test_the_read_only_check_sends_an_ended_session_to_be_marked(session, desk):
    session_id = _open(session, desk, now=T0)
    idle = T0 + sessions._idle_limit()
    assert sessions.live_username(session, session_id=session_id, now=idle) == (None, True)
    assert sessions.live_username(session, session_id="made-up", now=T0) == (None, True)
    assert sessions.live_username(session, session_id=None, now=T0) == (None, False)
    assert sessions.touch_session(session, session_id=session_id, now=idle) is None
    session.commit()
    assert session.exec(select(StaffSession.revoked_reason)).one() == "idle"


def test_the_run_check_reads_the_user_and_their_practices_with_the_session(session):
    from services import auth

    zeta, alpha = make_practice(session, name="Zeta Pediatrics"), make_practice(
        session, name="Alpha Pediatrics")
    make_practice(session, name="Not Theirs")
    desk = make_user(session, role=Role.staff, practices=[zeta, alpha], username="desk")
    loner = make_user(session, role=Role.staff, username="loner")
    session.commit()
    session_id, loner_id = _open(session, desk, now=T0), _open(session, loner, now=T0)
    soon = T0 + sessions.TOUCH_EVERY - dt.timedelta(seconds=1)

    check = sessions.check_session(session, session_id=session_id, now=soon)
    assert check.user == auth.get_active_user(session, username="desk")
    assert [p.name for p in check.practices] == ["Alpha Pediatrics", "Zeta Pediatrics"]
    assert list(check.practices) == auth.user_practices(session, user_id=desk.id)
    assert not check.to_write
    assert sessions.check_session(
        session, session_id=session_id, now=T0 + sessions.TOUCH_EVERY).to_write

    alone = sessions.check_session(session, session_id=loner_id, now=soon)
    assert alone.user.username == "loner" and alone.practices == ()


def test_the_run_check_finds_no_user_where_the_session_is_not_live(session, desk):
    session_id = _open(session, desk, now=T0)
    ended = sessions.SessionCheck(None, (), True)
    assert sessions.check_session(session, session_id=None, now=T0) == sessions.SessionCheck(
        None, (), False)
    assert sessions.check_session(session, session_id="made-up", now=T0) == ended
    assert sessions.check_session(
        session, session_id=session_id, now=T0 + sessions._idle_limit()) == ended
    desk.disabled = True
    session.add(desk)
    session.commit()
    assert sessions.check_session(session, session_id=session_id, now=T0) == ended
    desk.disabled = False
    session.add(desk)
    session.commit()
    assert sessions.check_session(session, session_id=session_id, now=T0).user is not None
    sessions.revoke_session(session, session_id=session_id, actor="desk", now=T0)
    session.commit()
    assert sessions.check_session(session, session_id=session_id, now=T0) == ended
