"""The login gate: streamlit-authenticator for the form and the cookie, our database for the
password check, the throttles and the server-side session the cookie points to."""

from __future__ import annotations

import contextlib
import datetime as dt
import time

import jwt
import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from models import utcnow
from models.public import StaffUserPublic
from services import auth, sessions, signin
from services.db import session_scope
from services.settings import cookie_key, get_settings
from ui.client import client_key
from ui.context import remember_run_practices

LOGIN_FIELDS = {"Form name": "Sign in", "Username": "Username", "Password": "Password",
                "Login": "Sign in"}
SESSION_KEY = "_portal_session_id"  # the random id the cookie carries; its hash is in the database
_COOKIE_EXP = "_portal_cookie_exp"
_REFUSAL = "_portal_sign_in_refusal"
SESSION_ENDED = ("Your session ended (no activity for a while, or signed out elsewhere). "
                 "Sign in again to continue.")
_NOTICE = "_portal_sign_out_notice"
# When this run checked its session (time.monotonic()); the session-watch fragment skips its
# own query when the check is younger than this (it ran in the same run).
_CHECKED_AT = "_portal_session_checked_at"
_SAME_RUN_SECONDS = 1.0


def _check_credentials_in_database(username: str, password: str) -> bool:
    # Replaces the library's in-memory check: our sign-in throttles and opens a server-side
    # session; the library then only fills in its session-state keys.
    result = signin.sign_in(username=username, password=password, client=client_key())
    if result.ok:
        st.session_state[SESSION_KEY] = result.session_id
    else:
        st.session_state[_REFUSAL] = result.message
    return result.ok


def _cookie_of_live_session() -> dict | None:
    # Replaces the library's cookie reader: a well-signed cookie signs in only while the
    # session it names is live in the database (not revoked, idle or expired).
    settings = get_settings()
    token = st.context.cookies.get(settings.cookie_name) if st.context.cookies else None
    if not token:
        return None
    try:
        payload = jwt.decode(token, cookie_key(settings), algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    session_id = payload.get("sid")
    if not isinstance(session_id, str) or float(payload.get("exp_date", 0)) <= utcnow().timestamp():
        return None  # a cookie from before server-side sessions, or past its date
    with session_scope() as session:
        username = sessions.touch_session(session, session_id=session_id)
    if username is None or username != payload.get("username"):
        return None
    st.session_state[SESSION_KEY] = session_id
    st.session_state[_COOKIE_EXP] = float(payload["exp_date"])
    return payload


def build_authenticator(*, signed_in: bool = False) -> stauth.Authenticate:
    """The authenticator for this run, built from the enabled StaffUser rows (hashes only).

    A signed-in run never logs in (the form and the cookie login are for signed-out runs),
    and logging out needs no credentials: it gets none, and no user is read for it.
    """
    settings = get_settings()
    credentials: dict = {"usernames": {}}
    if not signed_in:
        with session_scope(read_only=True) as session:
            credentials = auth.load_credentials(session)
    authenticator = stauth.Authenticate(
        credentials,
        cookie_name=settings.cookie_name,
        cookie_key=cookie_key(settings),
        cookie_expiry_days=settings.session_expiry_days,
        auto_hash=False,
        login_sleep_time=0,  # the cookie is read from the request, no need to wait for JS
    )
    authenticator.authentication_controller.authentication_model.check_credentials = (
        _check_credentials_in_database
    )
    cookies = authenticator.cookie_controller
    cookies.get_cookie = _cookie_of_live_session
    cookies.set_cookie = lambda: None  # keep_login_cookie writes it, with the session id
    return authenticator


def _forget_login() -> None:
    for key in ("authentication_status", "username", "name", "email", "roles", _COOKIE_EXP,
                SESSION_KEY):
        st.session_state.pop(key, None)


def restore_from_cookie(authenticator: stauth.Authenticate) -> None:
    """Log in from a cookie whose session is live; any other cookie is dropped."""
    try:
        authenticator.login(location="unrendered")
    except LoginError:
        _forget_login()
        st.session_state["_portal_drop_cookie"] = True
        return
    if not st.session_state.get("authentication_status") and (
        get_settings().cookie_name in (st.context.cookies or {})
    ):
        st.session_state["_portal_drop_cookie"] = True


def current_user(authenticator: stauth.Authenticate) -> StaffUserPublic | None:
    """The signed-in user once this run's session check passed (activity extends it).

    One read transaction checks the session and reads its user and their practices (the
    practice selector and the page reuse them this run); a disabled or deleted user has no
    live session.
    """
    if not st.session_state.get("authentication_status"):
        return None
    session_id = st.session_state.get(SESSION_KEY)
    with session_scope(read_only=True) as session:
        check = sessions.check_session(session, session_id=session_id)
    user = check.user
    if check.to_write:  # activity to record or an end to mark: checked again inside the write
        with session_scope() as session:
            username = sessions.touch_session(session, session_id=session_id)
            user = auth.get_active_user(session, username=username) if username else None
        practices = None  # read by the practice selector as usual
    else:
        practices = list(check.practices)
    st.session_state[_CHECKED_AT] = time.monotonic()
    if user is None or user.username != st.session_state.get("username"):
        st.session_state[_NOTICE] = SESSION_ENDED
        end_session(authenticator, reason="ended")
        return None
    if practices is not None:
        remember_run_practices(user, practices)
    return user


def keep_login_cookie(authenticator: stauth.Authenticate) -> None:
    """Render the cookie write on every run after a password login.

    The component is written with the same arguments each run, so the browser gets the
    cookie even when the login's own run is cut short by the rerun that follows it.
    """
    expires = st.session_state.get(_COOKIE_EXP)
    session_id = st.session_state.get(SESSION_KEY)
    if not expires or not session_id or not st.session_state.get("username"):
        return
    settings = get_settings()
    token = jwt.encode(
        {"username": st.session_state["username"], "exp_date": expires, "sid": session_id},
        cookie_key(settings),
        algorithm="HS256",
    )
    manager = authenticator.cookie_controller.cookie_model.cookie_manager
    manager.set(
        settings.cookie_name,
        token,
        key="portal_set_cookie",
        # Aware UTC: the browser reads a naive time as its own local time, which would move
        # the expiry by the browser's offset from the server.
        expires_at=dt.datetime.fromtimestamp(expires, tz=dt.UTC),
    )


def drop_login_cookie(authenticator: stauth.Authenticate) -> None:
    """After a logout (or a refused cookie), keep asking the browser to delete the cookie."""
    if not st.session_state.get("_portal_drop_cookie"):
        return
    name = get_settings().cookie_name
    if name in st.context.cookies:
        manager = authenticator.cookie_controller.cookie_model.cookie_manager
        with contextlib.suppress(KeyError):
            manager.delete(name, key="portal_drop_cookie")


def login_form(authenticator: stauth.Authenticate) -> None:
    """The sign-in form; on success the app reruns into the signed-in navigation."""
    st.title("Practice Portal")
    # Kept until the next sign-in: the cookie's removal reruns the page right after a sign-out,
    # and the notice must survive that rerun.
    notice = st.session_state.get(_NOTICE)
    if notice:
        st.info(notice, icon=":material/timer_off:")
    st.session_state.pop(_REFUSAL, None)
    try:
        authenticator.login(location="main", fields=LOGIN_FIELDS, key="portal_login")
    except LoginError:
        st.error("Sign-in failed. Check your username and password.")
        return
    status = st.session_state.get("authentication_status")
    if status and st.session_state.get(SESSION_KEY):
        with session_scope(read_only=True) as session:
            ends = sessions.session_expires_at(session, session_id=st.session_state[SESSION_KEY])
        st.session_state[_COOKIE_EXP] = ends.timestamp() if ends else 0
        st.session_state.pop("_portal_drop_cookie", None)
        st.session_state.pop("logout", None)
        st.session_state.pop(_NOTICE, None)
        st.rerun()
    elif status is False:
        st.error(st.session_state.pop(_REFUSAL, None) or signin.REFUSED)


def end_session(authenticator: stauth.Authenticate, *, reason: str = "signed out") -> None:
    """Sign the user out of this session, end it in the database, have the browser drop the
    cookie."""
    session_id = st.session_state.get(SESSION_KEY)
    if session_id:
        with session_scope() as session:
            sessions.revoke_session(session, session_id=session_id, reason=reason,
                                    actor=st.session_state.get("username") or "?")
    authenticator.authentication_controller.logout()
    _forget_login()
    st.session_state["_portal_drop_cookie"] = True


def logout_button(authenticator: stauth.Authenticate) -> None:
    """The sidebar's Logout; also forgets the selected practice."""
    if st.sidebar.button("Logout", icon=":material/logout:", key="portal_logout"):
        end_session(authenticator)
        st.session_state.pop("practice_id", None)
        st.rerun()


def idle_check_seconds() -> float:
    """How often an open tab asks whether its session still lives."""
    idle = get_settings().session_idle_minutes * 60
    return min(30.0, max(1.0, idle / 6))


def _check_still_signed_in() -> None:
    # Reads only: a check is not activity. When the session has ended, the whole app reruns,
    # which signs out and replaces the page with the sign-in form. In a whole run the
    # fragment runs right after current_user checked the session: no second query.
    if time.monotonic() - st.session_state.pop(_CHECKED_AT, -60.0) < _SAME_RUN_SECONDS:
        return
    with session_scope(read_only=True) as session:
        username = sessions.session_username(
            session, session_id=st.session_state.get(SESSION_KEY))
    if username is None or username != st.session_state.get("username"):
        st.rerun(scope="app")


def watch_session() -> None:
    """Have this open tab check its session every few seconds, even with nobody at it."""
    with st.sidebar:
        st.fragment(run_every=idle_check_seconds())(_check_still_signed_in)()
