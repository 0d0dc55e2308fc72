"""Staff sign-in: the password check with throttles per username and per client address.

The bcrypt check runs outside any database transaction (it takes a quarter of a second and
would otherwise hold SQLite's write lock against every desk); the failure is then counted in
one short write. Unknown and known usernames are treated alike: same message, same work.

Policy (documented in the README):
- per username: after `PORTAL_LOGIN_MAX_FAILURES` failures in a row the username pauses for
  `PORTAL_LOGIN_LOCK_MINUTES`, doubling with each further failure (at most a day). The pause
  does not apply to a computer this user has signed in from before, so a stranger cannot
  keep a desk out; an administrator's unlock ends it.
- per client address: more than `PORTAL_LOGIN_CLIENT_LIMIT` failures in
  `PORTAL_LOGIN_CLIENT_WINDOW_MINUTES` refuse that address until the window ends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import threading
from dataclasses import dataclass

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from models import RateLimit, StaffUser, utcnow
from services.audit import record_event
from services.auth import check_password, hash_password
from services.db import session_scope
from services.sessions import create_session, is_known_client
from services.settings import get_settings

CLIENT_BUCKET = "signin_client"
NAME_BUCKET = "signin_name"  # usernames that do not exist, so they pause like real ones
MAX_PAUSE = dt.timedelta(days=1)
# Password checks at once in this process: a flood of sign-ins queues here instead of taking
# every core from the desks that are registering patients.
_PASSWORD_CHECKS = threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) // 2))
REFUSED = "Username or password is incorrect."
# Compared against when the username is unknown or paused, so that every answer costs a check.
_DUMMY_HASH = hash_password("no such user, no such password")


@dataclass(frozen=True)
class SignInResult:
    """The outcome of one sign-in try; `session_id` is set only on success."""

    ok: bool
    username: str = ""
    session_id: str | None = None
    message: str = ""


@dataclass(frozen=True)
class _Before:
    user_id: int | None
    password_hash: str
    disabled: bool
    paused_minutes: int  # 0 when the username may try now
    client_minutes: int  # 0 when the address may try now
    known_client: bool


def _name_key(username: str) -> str:
    # People type passwords into the username field: store a hash, never the typed text.
    return "sha256:" + hashlib.sha256(username.encode("utf-8")).hexdigest()


def pause_after(failures: int) -> dt.timedelta:
    """How long a username pauses after `failures` misses in a row (zero below the limit)."""
    settings = get_settings()
    over = failures - settings.login_max_failures
    if over < 0:
        return dt.timedelta(0)
    return min(MAX_PAUSE, dt.timedelta(minutes=settings.login_lock_minutes) * 2 ** min(over, 20))


def _minutes(until: dt.datetime | None, now: dt.datetime) -> int:
    if until is None or until <= now:
        return 0
    return max(1, math.ceil((until - now).total_seconds() / 60))


def _window(session: Session, bucket: str, key: str) -> RateLimit | None:
    return session.exec(
        select(RateLimit).where(RateLimit.bucket == bucket, RateLimit.key == key)
    ).first()


def _client_until(window: RateLimit | None) -> dt.datetime | None:
    settings = get_settings()
    if window is None or window.count < settings.login_client_limit:
        return None
    return window.window_start + dt.timedelta(minutes=settings.login_client_window_minutes)


def _read_before(session: Session, *, username: str, client: str, now: dt.datetime) -> _Before:
    user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
    client_minutes = _minutes(_client_until(_window(session, CLIENT_BUCKET, client)), now)
    if user is None:
        name = _window(session, NAME_BUCKET, _name_key(username))
        paused = _minutes(name.window_start + pause_after(name.count), now) if name else 0
        return _Before(None, _DUMMY_HASH, False, paused, client_minutes, False)
    return _Before(
        user.id, user.password_hash, user.disabled, _minutes(user.locked_until, now),
        client_minutes, is_known_client(session, user_id=user.id, client=client),
    )


def _count_in(session: Session, *, bucket: str, key: str, now: dt.datetime,
              window: dt.timedelta | None) -> RateLimit:
    """Add one failure to a counter row (created if missing, row-locked)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.exec(insert(RateLimit).values(bucket=bucket, key=key, window_start=now, count=0)
                 .on_conflict_do_nothing(index_elements=["bucket", "key"]))
    row = session.exec(select(RateLimit).where(RateLimit.bucket == bucket, RateLimit.key == key)
                       .with_for_update()).one()
    if window is not None and row.window_start + window <= now:
        row.window_start, row.count = now, 0  # a fixed window: a stale one starts again
    row.count += 1
    if window is None:
        row.window_start = now  # a run of misses: the pause counts from the latest
    session.add(row)
    return row


def _record_failure(session: Session, *, username: str, before: _Before, client: str,
                    now: dt.datetime, reason: str) -> None:
    settings = get_settings()
    _count_in(session, bucket=CLIENT_BUCKET, key=client, now=now,
              window=dt.timedelta(minutes=settings.login_client_window_minutes))
    if before.user_id is None:
        _count_in(session, bucket=NAME_BUCKET, key=_name_key(username), now=now, window=None)
        record_event(session, actor="?", action="login_failed", reason=reason, client=client)
        return
    user = session.exec(select(StaffUser).where(StaffUser.id == before.user_id)
                        .with_for_update()).one()
    user.failed_logins += 1
    pause = pause_after(user.failed_logins)
    record_event(session, actor=username, action="login_failed", reason=reason,
                 consecutive=user.failed_logins, client=client)
    if pause:
        user.locked_until = now + pause
        record_event(session, actor=username, action="login_locked",
                     minutes=int(pause.total_seconds() // 60), client=client)
    session.add(user)


def _refusal(before: _Before, *, matched: bool) -> tuple[str, str]:
    """(reason for the audit log, message for the screen) of a refused try."""
    if before.client_minutes:
        return "too many tries from this address", (
            "Too many failed sign-ins from this computer. Try again in "
            f"{before.client_minutes} minute(s)."
        )
    if before.paused_minutes and not (before.known_client and matched):
        return "username paused", (
            "Too many failed sign-ins for this username. Try again in "
            f"{before.paused_minutes} minute(s), sign in from a computer you have used "
            "before, or ask an administrator to unlock the account."
        )
    if before.user_id is None:
        return "unknown user", REFUSED
    return ("disabled" if before.disabled else "wrong password"), REFUSED


def sign_in(
    *, username: str, password: str, client: str, now: dt.datetime | None = None
) -> SignInResult:
    """Check a staff sign-in and, when it succeeds, open a server-side session.

    Opens its own short units of work: the bcrypt check runs between them.
    """
    with _PASSWORD_CHECKS:
        return _sign_in(username=username, password=password, client=client,
                        now=now or utcnow())


def _sign_in(*, username: str, password: str, client: str, now: dt.datetime) -> SignInResult:
    username = (username or "").strip().lower()
    with session_scope(read_only=True) as session:
        before = _read_before(session, username=username, client=client, now=now)
    # One bcrypt check whatever the username, unless the answer is "no" for any username:
    # a refused address, or a paused name tried from a computer not known for it.
    certain_refusal = before.client_minutes or (before.paused_minutes and not before.known_client)
    matched = not certain_refusal and check_password(password or "", before.password_hash)
    ok = matched and before.user_id is not None and not before.disabled
    with session_scope() as session:
        if ok:
            user = session.get(StaffUser, before.user_id)
            user.failed_logins, user.locked_until = 0, None
            session.add(user)
            session_id = create_session(session, user_id=user.id, client=client, now=now)
            record_event(session, actor=username, action="login_succeeded", client=client)
            return SignInResult(ok=True, username=username, session_id=session_id)
        reason, message = _refusal(before, matched=matched)
        if before.client_minutes:
            record_event(session, actor="?", action="login_throttled", client=client)
        elif reason == "username paused":
            # Not counted against the username: the pause grows only with tries it allowed.
            _count_in(session, bucket=CLIENT_BUCKET, key=client, now=now,
                      window=dt.timedelta(minutes=get_settings().login_client_window_minutes))
            record_event(session, actor=username if before.user_id else "?",
                         action="login_refused_locked", client=client)
        else:
            _record_failure(session, username=username, before=before, client=client,
                            now=now, reason=reason)
    return SignInResult(ok=False, username=username, message=message)
