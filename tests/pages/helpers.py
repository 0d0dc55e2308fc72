"""Running app.py in AppTest as a signed-in user."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models import StaffUser

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def rerun_app_script_every_run(setattr_=setattr) -> None:
    """Make AppTest rerun app.py on every run, as the server does.

    With a `pages/` folder beside app.py, AppTest re-detects Streamlit's legacy pages-folder
    mode before each run and then runs the page script alone after the first run (no login
    gate, no Practice selector). The server leaves that mode once app.py calls st.navigation;
    so does AppTest with this. `setattr_` may be pytest's monkeypatch.setattr.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    setattr_(PagesManager, "__init__", init)


def app_test() -> AppTest:
    """app.py in AppTest, not yet run."""
    return AppTest.from_file(APP, default_timeout=30)


def open_session(at: AppTest, username: str) -> AppTest:
    """Put `username`'s sign-in into the AppTest's session state, as a sign-in would: the
    library's keys plus a live server-side session."""
    from services.db import session_scope
    from services.sessions import create_session
    from ui.auth import SESSION_KEY

    with session_scope() as session:
        user_id = session.exec(
            select(StaffUser.id).where(StaffUser.username == username)).first()
        if user_id is not None:
            at.session_state[SESSION_KEY] = create_session(session, user_id=user_id)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state["name"] = username
    return at


def signed_in(username: str, *, practice_id: int | None = None, page: str | None = None) -> AppTest:
    """app.py, run once as `username` (as a valid cookie would sign them in)."""
    at = open_session(app_test(), username)
    if practice_id is not None:
        at.session_state["practice_id"] = practice_id
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def as_read(text: str) -> str:
    """Text as a person reads it: the backslashes plain() puts before Markdown characters
    dropped."""
    return re.sub(r"\\(.)", r"\1", text)


def texts(at: AppTest) -> str:
    """Every markdown, title, caption, info and error text of the last run, joined, as a
    person reads it (the backslashes plain() puts before Markdown characters dropped)."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "error",
                 "warning", "success"):
        parts.extend(str(element.value) for element in getattr(at, kind))
    return as_read("\n".join(parts))
