"""The login gate: streamlit-authenticator for the form and the cookie, our database for the
password check, the failure count and the time-based lock."""

from __future__ import annotations

import contextlib
import datetime as dt

import jwt
import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from services import auth
from services.db import session_scope
from services.errors import AccountLocked
from services.settings import cookie_key, get_settings

LOGIN_FIELDS = {"Form name": "Sign in", "Username": "Username", "Password": "Password",
                "Login": "Sign in"}
_COOKIE_EXP = "_portal_cookie_exp"


def _check_credentials_in_database(username: str, password: str) -> bool:
    # Replaces the library's in-memory check: failures are counted in the database and
    # lock the user for a while (the library's own permanent lock is not used).
    refused = None
    with session_scope() as session:
        try:
            return auth.verify_login(session, username=username, password=password)
        except AccountLocked as error:
            refused = error  # raised after the commit, so the refusal's audit event is kept
    raise refused


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
    return authenticator


def _forget_login() -> None:
    for key in ("authentication_status", "username", "name", "email", "roles", _COOKIE_EXP):
        st.session_state.pop(key, None)


def restore_from_cookie(authenticator: stauth.Authenticate) -> None:
    """Log in from a valid cookie; a cookie of a disabled or deleted user is refused."""
    try:
        authenticator.login(location="unrendered")
    except LoginError:
        _forget_login()
        st.session_state["_portal_drop_cookie"] = True


def keep_login_cookie(authenticator: stauth.Authenticate) -> None:
    """Render the cookie write on every run after a password login.

    The component is written with the same arguments each run, so the browser gets the
    cookie even when the login's own run is cut short by the rerun that follows it.
    """
    expires = st.session_state.get(_COOKIE_EXP)
    if not expires or not st.session_state.get("username"):
        return
    settings = get_settings()
    token = jwt.encode(
        {"username": st.session_state["username"], "exp_date": expires},
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
    try:
        authenticator.login(location="main", fields=LOGIN_FIELDS, key="portal_login")
    except AccountLocked as error:
        st.error(error.message, icon=":material/lock:")
        return
    except LoginError:
        st.error("Sign-in failed. Check your username and password.")
        return
    status = st.session_state.get("authentication_status")
    if status:
        settings = get_settings()
        st.session_state[_COOKIE_EXP] = (
            dt.datetime.now() + dt.timedelta(days=settings.session_expiry_days)
        ).timestamp()
        st.session_state.pop("_portal_drop_cookie", None)
        st.session_state.pop("logout", None)
        st.rerun()
    elif status is False:
        st.error("Username or password is incorrect.")


def end_session(authenticator: stauth.Authenticate) -> None:
    """Sign the user out of this session and have the browser drop the cookie."""
    authenticator.authentication_controller.logout()
    _forget_login()
    st.session_state["_portal_drop_cookie"] = True


def logout_button(authenticator: stauth.Authenticate) -> None:
    """The sidebar's Logout; also forgets the selected practice."""
    if st.sidebar.button("Logout", icon=":material/logout:", key="portal_logout"):
        end_session(authenticator)
        st.session_state.pop("practice_id", None)
        st.rerun()
