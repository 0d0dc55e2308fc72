"""Server-side staff sessions: create, check, touch, revoke, expire.

The sign-in cookie carries a random session id; the `StaffSession` row (the id stored as a
SHA-256 hash) decides whether it still signs anyone in. A session ends when it is revoked,
idle for longer than `PORTAL_SESSION_IDLE_MINUTES`, or past its absolute lifetime
(`PORTAL_SESSION_EXPIRY_DAYS`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, select, update

from models import Practice, StaffPractice, StaffSession, StaffUser, utcnow
from models.public import PracticeOption, StaffUserPublic
from services.audit import record_event
from services.settings import get_settings

SESSION_ID_BYTES = 32  # 256 random bits
# Activity is written at most this often, so a busy page does not write on every click.
TOUCH_EVERY = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class SessionInfo:
    """A staff session as an admin sees it (never the id itself)."""

    id: int
    username: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    client: str


def hash_session_id(session_id: str) -> str:
    """The stored form of a session id."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def _idle_limit() -> dt.timedelta:
    return dt.timedelta(minutes=get_settings().session_idle_minutes)


def create_session(
    session: Session, *, user_id: int, client: str = "", now: dt.datetime | None = None
) -> str:
    """Open a session for `user_id` and return its id (only its hash is stored)."""
    now = now or utcnow()
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    session.add(StaffSession(
        token_hash=hash_session_id(session_id),
        staff_user_id=user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + dt.timedelta(days=get_settings().session_expiry_days),
        client=client[:200],
    ))
    session.flush()
    return session_id


def _live_row(
    session: Session, session_id: str | None, now: dt.datetime
) -> tuple[StaffSession, StaffUser] | None:
    if not session_id:
        return None
    found = session.exec(
        select(StaffSession, StaffUser)
        .join(StaffUser, col(StaffUser.id) == StaffSession.staff_user_id)
        .where(StaffSession.token_hash == hash_session_id(session_id))
    ).first()
    if found is None:
        return None
    row, user = found
    return (row, user) if _is_live(row, user, now) else None


def _is_live(row: StaffSession, user: StaffUser, now: dt.datetime) -> bool:
    if row.revoked_at is not None or user.disabled:
        return False
    return now < row.expires_at and now < row.last_seen_at + _idle_limit()


@dataclass(frozen=True)
class SessionCheck:
    """One run's session check: the signed-in user and their practices, read together."""

    user: StaffUserPublic | None  # None: no live session
    practices: tuple[PracticeOption, ...]  # by name, as auth.user_practices lists them
    to_write: bool  # touch_session has activity to record or an end to mark


def check_session(
    session: Session, *, session_id: str | None, now: dt.datetime | None = None
) -> SessionCheck:
    """live_username's check, read only, with the session's user and the practices they
    belong to in the same query (a page run needs all three)."""
    now = now or utcnow()
    if not session_id:
        return SessionCheck(None, (), False)
    rows = session.exec(
        select(StaffSession, StaffUser, Practice)
        .join(StaffUser, col(StaffUser.id) == StaffSession.staff_user_id)
        .outerjoin(StaffPractice, col(StaffPractice.staff_user_id) == StaffUser.id)
        .outerjoin(Practice, col(Practice.id) == StaffPractice.practice_id)
        .where(StaffSession.token_hash == hash_session_id(session_id))
        .order_by(Practice.name)
    ).all()
    if not rows or not _is_live(rows[0][0], rows[0][1], now):
        return SessionCheck(None, (), True)
    row, user, _ = rows[0]
    practices = tuple(PracticeOption.model_validate(practice)
                      for _, _, practice in rows if practice is not None)
    return SessionCheck(StaffUserPublic.model_validate(user), practices,
                        now - row.last_seen_at >= TOUCH_EVERY)


def session_username(
    session: Session, *, session_id: str | None, now: dt.datetime | None = None
) -> str | None:
    """The username a live session belongs to, or None; does not count as activity."""
    found = _live_row(session, session_id, now or utcnow())
    return found[1].username if found else None


def live_username(
    session: Session, *, session_id: str | None, now: dt.datetime | None = None
) -> tuple[str | None, bool]:
    """(username, whether touch_session has anything to write), read only.

    (None, True) for an ended session: touch_session records its end. Every run checks its
    session with this inside a read transaction and opens a write transaction for
    touch_session only when it would write (at most every TOUCH_EVERY, or at the end), so
    that a busy page does not take the database's write lock on every click.
    """
    now = now or utcnow()
    found = _live_row(session, session_id, now)
    if found is None:
        return None, bool(session_id)
    row, user = found
    return user.username, now - row.last_seen_at >= TOUCH_EVERY


def touch_session(
    session: Session, *, session_id: str | None, now: dt.datetime | None = None
) -> str | None:
    """Record activity on a live session and return its username; None when it has ended.

    A session found idle or past its lifetime is marked revoked here, so that the admin's
    list and the audit log show when it ended.
    """
    now = now or utcnow()
    found = _live_row(session, session_id, now)
    if found is None:
        if session_id:
            _mark_ended(session, session_id=session_id, now=now)
        return None
    row, user = found
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.add(row)
    return user.username


def _mark_ended(session: Session, *, session_id: str, now: dt.datetime) -> None:
    row = session.exec(
        select(StaffSession).where(StaffSession.token_hash == hash_session_id(session_id))
    ).first()
    if row is None or row.revoked_at is not None:
        return
    if now >= row.expires_at:
        reason = "expired"
    elif now >= row.last_seen_at + _idle_limit():
        reason = "idle"
    else:
        reason = "user disabled"
    row.revoked_at, row.revoked_reason = now, reason
    session.add(row)


def revoke_session(
    session: Session, *, session_id: str | None, actor: str, reason: str = "signed out",
    now: dt.datetime | None = None,
) -> None:
    """End one session (logout); unknown or already ended ids are ignored."""
    if not session_id:
        return
    result = session.exec(
        update(StaffSession)
        .where(StaffSession.token_hash == hash_session_id(session_id),
               col(StaffSession.revoked_at).is_(None))
        .values(revoked_at=now or utcnow(), revoked_reason=reason)
    )
    if result.rowcount:
        record_event(session, actor=actor,
                     action="logout" if reason == "signed out" else "sessions_ended",
                     reason=reason, sessions=1)


def session_expires_at(session: Session, *, session_id: str | None) -> dt.datetime | None:
    """When a session ends at the latest (the cookie's expiry), or None if unknown."""
    if not session_id:
        return None
    return session.exec(
        select(StaffSession.expires_at)
        .where(StaffSession.token_hash == hash_session_id(session_id))
    ).first()


def revoke_all_for_user(
    session: Session, *, user_id: int, reason: str, actor: str, now: dt.datetime | None = None
) -> int:
    """End every open session of a user (password reset, role change, disabling, removal)."""
    now = now or utcnow()
    result = session.exec(
        update(StaffSession)
        .where(StaffSession.staff_user_id == user_id, col(StaffSession.revoked_at).is_(None))
        .values(revoked_at=now, revoked_reason=reason[:40])
    )
    ended = result.rowcount or 0
    if ended:
        user = session.get(StaffUser, user_id)
        record_event(session, actor=actor, action="sessions_ended",
                     username=user.username if user else str(user_id), reason=reason,
                     sessions=ended)
    return ended


def active_sessions(
    session: Session, *, user_id: int, now: dt.datetime | None = None
) -> list[SessionInfo]:
    """The user's sessions that still sign in, newest activity first."""
    now = now or utcnow()
    rows = session.exec(
        select(StaffSession, StaffUser.username)
        .join(StaffUser, col(StaffUser.id) == StaffSession.staff_user_id)
        .where(StaffSession.staff_user_id == user_id,
               col(StaffSession.revoked_at).is_(None),
               StaffSession.expires_at > now,
               StaffSession.last_seen_at > now - _idle_limit())
        .order_by(col(StaffSession.last_seen_at).desc())
    ).all()
    return [
        SessionInfo(id=row.id, username=username, created_at=row.created_at,
                    last_seen_at=row.last_seen_at, expires_at=row.expires_at, client=row.client)
        for row, username in rows
    ]


def is_known_client(session: Session, *, user_id: int, client: str) -> bool:
    """True when this user has signed in from `client` before (any session, even ended)."""
    if not client:
        return False
    return session.exec(
        select(StaffSession.id)
        .where(StaffSession.staff_user_id == user_id, StaffSession.client == client)
        .limit(1)
    ).first() is not None
