"""Who is signed in and which practice they work in: checked on the server for every page."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from models.public import PracticeOption, StaffUserPublic
from services import auth
from services.db import session_scope
from services.errors import PortalError
from services.permissions import can_open
from ui.text import flash, plain

USER_KEY = "_portal_user"
# The user's practices as app.py read them for this run (the page reuses them, not a 2nd query).
PRACTICES_KEY = "_portal_run_practices"


@dataclass(frozen=True)
class PageContext:
    """The signed-in user and the practice the page works inside."""

    user: StaffUserPublic
    practice: PracticeOption


def current_user() -> StaffUserPublic | None:
    """The user app.py loaded from the database for this run (None when signed out)."""
    return st.session_state.get(USER_KEY)


def practices_of(user: StaffUserPublic) -> list[PracticeOption]:
    """The practices the user belongs to, fresh from the database this run."""
    known = st.session_state.get(PRACTICES_KEY)
    if known is not None and known[0] == user.id:
        return known[1]
    with session_scope(read_only=True) as session:
        options = auth.user_practices(session, user_id=user.id)
    st.session_state[PRACTICES_KEY] = (user.id, options)
    return options


def remember_run_practices(user: StaffUserPublic, options: list[PracticeOption]) -> None:
    """The user's practices as this run's session check read them (ui/auth.current_user)."""
    st.session_state[PRACTICES_KEY] = (user.id, options)


def forget_run_practices() -> None:
    """Called by app.py first thing in every run: the next read goes to the database."""
    st.session_state.pop(PRACTICES_KEY, None)


def practice_selector(user: StaffUserPublic) -> PracticeOption | None:
    """The `Practice` selector at the top of the sidebar, remembered for the session."""
    options = practices_of(user)
    if not options:
        st.sidebar.warning("You belong to no practice yet. Ask an administrator to add you.")
        st.session_state.pop("practice_id", None)
        return None
    by_id = {option.id: option for option in options}
    # A link may name the practice (the Dashboard's Register link, a bookmark); it is
    # applied once per new value, and only when the user belongs to that practice.
    requested = st.query_params.get("practice")
    if requested and requested != st.session_state.get("_portal_practice_param"):
        st.session_state["_portal_practice_param"] = requested
        if requested.isdigit() and int(requested) in by_id:
            st.session_state["practice_id"] = int(requested)
    if st.session_state.get("practice_id") not in by_id:
        st.session_state["practice_id"] = options[0].id
    chosen = st.sidebar.selectbox(
        "Practice",
        list(by_id),
        format_func=lambda practice_id: by_id[practice_id].name,
        key="practice_id",
    )
    # A tampered client could send a value outside the options; it selects nothing.
    return by_id.get(chosen)


def require_page(page: str) -> PageContext:
    """Stop the page unless the user may open it in a practice of theirs (server-side)."""
    user = current_user()
    if user is None or not can_open(user.role, page):
        st.error("You do not have access to this page.", icon=":material/block:")
        st.stop()
    practice_id = st.session_state.get("practice_id")
    practice = next((p for p in practices_of(user) if p.id == practice_id), None)
    if practice is None:
        st.info("Choose a practice in the sidebar to continue.")
        st.stop()
    return PageContext(user=user, practice=practice)


def apply_change(action, success: str, *, page_key: str) -> None:
    """Run one admin change in its own unit of work; on success clear cached reads and rerun
    with `success` flashed, and bump the page's form round so its forms start empty again."""
    try:
        with session_scope() as session:
            action(session)
    except PortalError as error:
        show_error(error)
        return
    st.cache_data.clear()  # names, roles and holidays feed other pages' cached reads
    flash(page_key, success)
    st.session_state[f"_{page_key}_round"] = st.session_state.get(f"_{page_key}_round", 0) + 1
    st.rerun()


def show_error(error: Exception) -> None:
    """Show a domain error's message as text (it quotes what was typed); never a stack trace."""
    st.error(plain(getattr(error, "message", None) or "Something went wrong. Please try again."))
